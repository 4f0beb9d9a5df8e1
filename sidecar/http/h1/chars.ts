// Byte-class tables for the HTTP/1.1 codec (RFC 9110 §5.6.2 tchar, §5.5 field-value, RFC 3986 target bytes).

/** 1 for RFC 9110 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~". */
export const TOKEN = new Uint8Array(256);
/** 1 for bytes allowed in a field value: HTAB, SP, VCHAR, obs-text. */
export const FIELD_VALUE = new Uint8Array(256);
/** 1 for bytes allowed in a request target: VCHAR only (no SP, controls, DEL or obs-text). */
export const TARGET = new Uint8Array(256);
/** Hex digit value + 1 (0 = not hex). */
export const HEX = new Uint8Array(256);

for (let c = 0; c < 256; c++) {
  const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  TOKEN[c] = alnum || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)) ? 1 : 0;
  FIELD_VALUE[c] = c === 0x09 || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
  TARGET[c] = c > 0x20 && c < 0x7f ? 1 : 0;
  if (c >= 0x30 && c <= 0x39) HEX[c] = c - 0x30 + 1;
  else if (c >= 0x61 && c <= 0x66) HEX[c] = c - 0x61 + 11;
  else if (c >= 0x41 && c <= 0x46) HEX[c] = c - 0x41 + 11;
}

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;
export const COLON = 58;

/** True when `s` (already a string) is a non-empty RFC 9110 token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] === 0) return false;
  }
  return true;
}
