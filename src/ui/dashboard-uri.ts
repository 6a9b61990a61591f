import { VERSION } from '../version.js';

/**
 * The dashboard's `ui://` address. The version is part of it because hosts
 * cache UI resources by URI: a new release must not show an old view.
 */
export const DASHBOARD_URI = `ui://loop-ops/dashboard-${VERSION}.html`;
