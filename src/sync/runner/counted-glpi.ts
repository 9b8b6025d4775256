import type { GlpiClient } from '../../glpi/types.js';

/**
 * The hook's GLPI client seen by one job, counting the calls the job makes (a search that pages
 * counts once): the job's outcome reports it, and a job that reached GLPI marks the hook healthy.
 * Written out method by method so that a method added to GlpiClient has to be placed here too.
 */
export function countedGlpi(client: GlpiClient): { glpi: GlpiClient; calls: () => number } {
  let calls = 0;
  const count = <T>(call: () => Promise<T>): Promise<T> => {
    calls += 1;
    return call();
  };
  const glpi: GlpiClient = {
    get hookId() {
      return client.hookId;
    },
    get glpiVersion() {
      return client.glpiVersion;
    },
    ensureSession: () => client.ensureSession(),
    killSession: () => client.killSession(),
    getItem: (itemtype, id) => count(() => client.getItem(itemtype, id)),
    getSubItems: (itemtype, id, subtype) => count(() => client.getSubItems(itemtype, id, subtype)),
    listItems: (itemtype) => count(() => client.listItems(itemtype)),
    addItem: (itemtype, input) => count(() => client.addItem(itemtype, input)),
    addItems: (itemtype, inputs) => count(() => client.addItems(itemtype, inputs)),
    addSubItem: (itemtype, id, subtype, input) => count(() => client.addSubItem(itemtype, id, subtype, input)),
    updateItem: (itemtype, id, input) => count(() => client.updateItem(itemtype, id, input)),
    search: (itemtype, options) => count(() => client.search(itemtype, options)),
    listPage: (itemtype, options) => count(() => client.listPage(itemtype, options)),
    downloadDocument: (id, limits) => count(() => client.downloadDocument(id, limits)),
    uploadDocument: (file, input) => count(() => client.uploadDocument(file, input)),
    getMyEntities: () => count(() => client.getMyEntities()),
    getActiveProfile: () => count(() => client.getActiveProfile()),
    getFullSession: () => count(() => client.getFullSession()),
  };
  return { glpi, calls: () => calls };
}
