// An extension's voicemail messages (README "Voicemail"): list, mark heard,
// delete, download. The box is the extension the tenant's own transaction can
// see (RLS: another tenant's id is a 404), in the tenant's primary domain; the
// messages come from mod_voicemail over ESL (daemon/voicemail/boxes.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { mailboxDir } from '../../../xml-handlers/directory.js';
import type { TenantSnapshot } from '../../../xml-handlers/model.js';
import { type Box, type VoicemailBoxes, type VoicemailMessage, VoicemailUnavailable } from '../../voicemail/boxes.js';
import { ApiError, notFound } from '../errors.js';
import { bool, errorBody, nullable, timestamp, uuid } from '../schema-types.js';
import { inTenant, requireTenant } from '../scope.js';

const message = {
  type: 'object',
  properties: {
    uuid,
    createdAt: timestamp,
    readAt: nullable(timestamp),
    folder: { type: 'string' },
    callerIdName: { type: 'string' },
    callerIdNumber: { type: 'string' },
    lengthS: { type: 'integer' },
  },
};
const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 503: errorBody };
const params = { type: 'object', required: ['id'], properties: { id: uuid } };
const msgParams = { type: 'object', required: ['id', 'uuid'], properties: { id: uuid, uuid } };
const tags = ['voicemail'];
const config = { roles: ['tenant_admin'] as const, resource: 'extensions' };

export function voicemailRoutes(app: FastifyInstance, pool: pg.Pool, boxes: VoicemailBoxes, root: string): void {
  /** The extension's box (by id, or by number for an agent's own), read in the tenant's context; else 404. */
  const boxOf = async (req: FastifyRequest, id: string, by: 'id' | 'number' = 'id'): Promise<Box> => {
    const row = await inTenant(
      pool,
      req,
      async ({ db }) =>
        (
          await db.query<{ number: string; domain: string | null; tenant: string; enabled: boolean }>(
            `SELECT e.number, e.voicemail_enabled AS enabled, e.tenant_id AS tenant,
              (SELECT domain FROM sip_domains WHERE is_primary) AS domain FROM extensions e WHERE e.${by} = $1`,
            [id],
          )
        ).rows[0],
      { write: false },
    );
    if (!row?.domain) throw notFound('extension');
    return {
      number: row.number,
      domain: row.domain,
      dir: mailboxDir(root, { id: row.tenant } as TenantSnapshot, row.number),
    };
  };
  const fsDown = (err: unknown) => {
    if (err instanceof VoicemailUnavailable) throw new ApiError(503, 'unavailable', `voicemail: ${err.message}`);
    throw err;
  };
  const strip = ({ file: _f, ...m }: VoicemailMessage) => m;

  app.get(
    '/extensions/:id/voicemail',
    {
      schema: {
        tags,
        params,
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: message } } }, ...errors },
      },
      config,
    },
    async (req) => {
      const box = await boxOf(req, (req.params as { id: string }).id);
      return { items: (await boxes.list(box).catch(fsDown)).map(strip) };
    },
  );

  // An agent's own box: the extension its token names (sub).
  app.get(
    '/me/voicemail',
    {
      schema: {
        tags: ['me'],
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: message } } }, ...errors },
      },
      config: { roles: ['agent'] },
    },
    async (req) => {
      const box = await boxOf(req, requireTenant(req.apiScope).principal.sub, 'number');
      return { items: (await boxes.list(box).catch(fsDown)).map(strip) };
    },
  );

  app.patch(
    '/extensions/:id/voicemail/:uuid',
    {
      schema: {
        tags,
        params: msgParams,
        body: { type: 'object', additionalProperties: false, required: ['heard'], properties: { heard: bool } },
        response: { 200: message, ...errors },
      },
      config,
    },
    async (req) => {
      const { id, uuid: msg } = req.params as { id: string; uuid: string };
      const box = await boxOf(req, id);
      if (!(await boxes.find(box, msg).catch(fsDown))) throw notFound('message');
      await boxes.setHeard(box, msg, (req.body as { heard: boolean }).heard).catch(fsDown);
      await audit(req, 'voicemail.heard', `extensions/${id}/voicemail/${msg}`);
      return strip((await boxes.find(box, msg))!);
    },
  );

  app.delete(
    '/extensions/:id/voicemail/:uuid',
    { schema: { tags, params: msgParams, response: { 204: { type: 'null' }, ...errors } }, config },
    async (req, reply) => {
      const { id, uuid: msg } = req.params as { id: string; uuid: string };
      const box = await boxOf(req, id);
      if (!(await boxes.find(box, msg).catch(fsDown))) throw notFound('message');
      await boxes.remove(box, msg).catch(fsDown);
      await audit(req, 'voicemail.delete', `extensions/${id}/voicemail/${msg}`);
      return reply.code(204).send();
    },
  );

  app.get(
    '/extensions/:id/voicemail/:uuid/audio',
    { schema: { tags, params: msgParams, response: { ...errors } }, config },
    async (req, reply) => {
      const { id, uuid: msg } = req.params as { id: string; uuid: string };
      const box = await boxOf(req, id);
      const m = await boxes.find(box, msg).catch(fsDown);
      if (!m) throw notFound('message');
      const audio = await boxes.audio(box, m);
      if (!audio) throw new ApiError(404, 'not_found', 'message audio file is missing on disk');
      return reply.type('audio/wav').header('content-length', audio.bytes).send(audio.stream);
    },
  );

  async function audit(req: FastifyRequest, action: string, target: string): Promise<void> {
    await inTenant(pool, req, ({ audit: write }) => write({ action, target, summary: {} }), { write: true });
  }
}
