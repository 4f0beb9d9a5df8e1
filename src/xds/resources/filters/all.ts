// Loads every HTTP filter config module so each registers its validator (import this once before validating an HCM).
import './api-key.js';
import './fault.js';
import './jwt-authn.js';
import './rbac.js';
