/**
 * Domain facts shared by the read side (src/ops, src/resources, src/tools)
 * and the engine (src/bluegreen): the names things have on the NAS, where
 * the state files live, and how they parse. Pure: no I/O here.
 */
export * from './app.js';
export * from './state-files.js';
