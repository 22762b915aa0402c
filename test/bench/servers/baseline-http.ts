// Baseline for the xml_curl figures: a bare fastify + @fastify/formbody route on
// the same path that parses the form body and answers a constant document of the
// same bytes the daemon answered. The daemon's ratio to this is the price of
// auth, dispatch, cache look-up, XML rendering and metrics.
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { memory, serveCalls } from '../processes.js';

const app = Fastify({ logger: false });
await app.register(formbody);
let document = '';
let contentType = 'text/xml';
app.post('/freeswitch/xml', async (_req, reply) => reply.type(contentType).send(document));

serveCalls(
  {
    start: async (args: { document: string; contentType: string }) => {
      document = args.document;
      contentType = args.contentType;
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      return { port: Number(new URL(address).port) };
    },
    memory,
  },
  () => app.close(),
);
