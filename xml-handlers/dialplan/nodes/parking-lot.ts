// Call parking (mod_valet_parking): the lot's dial code parks the caller in
// its first free slot; a slot's number parks there, or, when a call is parked
// in it, picks that call up. The lot's name in FreeSWITCH is built from the
// tenant's and the node's ids (media-names.ts), so a slot number dialled by
// another tenant's phone reaches that tenant's own lot, never this one.
import { parkingLotName } from '../../media-names.js';
import { tenantHoldMusic } from '../../moh.js';
import type { RouteKind } from '../route-kind.js';
import { type NodeKind, SettingsProblem } from './node-kind.js';
import { settingsReader } from './settings.js';

export interface ParkingSettings {
  firstSlot: number;
  lastSlot: number;
  timeoutS: number;
}

export interface ParkTarget {
  type: 'park';
  lot: string;
  /** A slot number, or `auto in <first> <last>` for the lot's dial code. */
  slot: string;
  timeoutS: number;
  /** What the parked caller hears: the tenant's hold music (moh.ts), never a stream named by the request. */
  holdMusic: string;
}

export const parkCall: RouteKind<ParkTarget> = {
  type: 'park',
  actions: (target, act) => {
    // No announcement of the slot (it is said with the say module and sound files, neither of which is assumed);
    // the parker knows the slot it dialled, or reads the lot in the API.
    act('answer');
    act('set', 'valet_announce_slot=false');
    act('set', `valet_parking_timeout=${target.timeoutS}`);
    // valet_parking_function plays valet_hold_music, else the channel's hold_music (switch_channel_get_hold_music):
    // set it here so a parked call plays its own tenant's stream whatever the channel carried in.
    act('set', `valet_hold_music=${target.holdMusic}`);
    act('valet_park', `${target.lot} ${target.slot}`);
  },
};

export const parkingLotNode: NodeKind<'parking_lot', ParkingSettings> = {
  kind: 'parking_lot',
  read: (node) => {
    const r = settingsReader(node.settings, ['firstSlot', 'lastSlot', 'timeoutS']);
    const firstSlot = r.int('firstSlot', 1, 99999);
    const lastSlot = r.int('lastSlot', firstSlot, Math.min(99999, firstSlot + 199));
    if (String(firstSlot).length !== String(lastSlot).length)
      throw new SettingsProblem(r.field('lastSlot'), 'must have as many digits as firstSlot');
    return { firstSlot, lastSlot, timeoutS: r.int('timeoutS', 30, 3600, 300) };
  },
  answers: (s, destination) =>
    /^[0-9]{1,5}$/.test(destination) && Number(destination) >= s.firstSlot && Number(destination) <= s.lastSlot,
  step: (node, s, { tenant, destination }) => {
    const slot =
      destination !== undefined && parkingLotNode.answers!(s, destination)
        ? destination
        : `auto in ${s.firstSlot} ${s.lastSlot}`;
    return {
      route: {
        direction: 'internal',
        target: {
          type: 'park',
          lot: parkingLotName(tenant.id, node.id),
          slot,
          timeoutS: s.timeoutS,
          holdMusic: tenantHoldMusic(tenant),
        },
      },
    };
  },
};
