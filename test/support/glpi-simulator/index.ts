/** GLPI simulator (10.0.3 or 11.0.8 behaviour) for tests and `npm run glpi-sim`; the contract is api.ts. */
export type {
  GlpiSimulator, GlpiSimulatorOptions, SimCall, SimFault, SimGlpiVersion, SimProfile, SimRow, SimState, SimUserToken,
} from './api.js';
export { SIM_GLPI_VERSIONS } from './api.js';
export { startGlpiSimulator } from './server.js';
/** GLPI 10.0 stores text HTML-encoded (state rows hold it that way); decode to compare with what was sent. */
export { glpiDecode, glpiEncode } from './text.js';
