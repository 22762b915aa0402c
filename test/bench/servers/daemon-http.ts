// The daemon's xml_curl endpoint, wired as daemon/main.ts wires it, in a process
// of its own (the server slot of the layout).
import { memory, serveCalls } from '../processes.js';

serveCalls({
  start: async () => { throw new Error('the xml_curl endpoint (issue 3, daemon/xml-curl/) is not in the tree yet'); },
  memory,
});
