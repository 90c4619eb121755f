import type Stripe from 'stripe';
import { toRemoteInvoice, toRemotePaymentIntent } from './invoice-snapshot';
import type { RemoteInvoice, RemotePaymentIntent } from './invoice-snapshot';
import { toRemoteCharge, toRemoteCreditNote } from './credit-note-snapshot';
import type { RemoteCharge, RemoteCreditNote } from './credit-note-snapshot';
import { toRemoteSubscription } from './subscription-snapshot';
import type { RemoteSubscription } from './subscription-snapshot';

/** A Stripe event as it is stored: what identifies and orders it, and Stripe's JSON of the whole event. */
export interface StripeEventRecord {
  id: string;
  type: string;
  /** When Stripe created it (whole seconds). */
  created: Date;
  apiVersion: string | null;
  livemode: boolean;
  /** The object it is about (invoice, subscription…), which workers lock one at a time; null when it has no id. */
  objectId: string | null;
  /** The event's JSON, stored as it came (the verified body, or the event as the API listed it). */
  json: string;
}

/** What an event is about: an invoice, a subscription, or something the server does not read. */
export type RemoteEventObject =
  | { kind: 'invoice'; invoice: RemoteInvoice }
  | { kind: 'subscription'; subscription: RemoteSubscription }
  | { kind: 'payment_intent'; paymentIntent: RemotePaymentIntent }
  | { kind: 'credit_note'; creditNote: RemoteCreditNote }
  | { kind: 'charge'; charge: RemoteCharge }
  | { kind: 'other'; id: string | null };

/** A Stripe event as it is applied: its id, type and time, and the snapshot of its object. */
export interface RemoteEvent {
  id: string;
  type: string;
  created: Date;
  object: RemoteEventObject;
}

/** An event listed from Stripe's API: readable, and storable as it is (`webhooks recover`). */
export type ListedEvent = RemoteEvent & StripeEventRecord;

/** `json` defaults to the event serialised again: the API's listing has no body of its own to keep. */
export function toEventRecord(event: Stripe.Event, json: string = JSON.stringify(event)): StripeEventRecord {
  const object = event.data?.object as { id?: unknown } | undefined;
  return {
    id: event.id,
    type: event.type,
    created: new Date(event.created * 1000),
    apiVersion: event.api_version ?? null,
    livemode: event.livemode === true,
    objectId: typeof object?.id === 'string' ? object.id : null,
    json,
  };
}

/**
 * Reads a Stripe event (its JSON, parsed: as stored after the intake checked its shape, or as the API listed it).
 * The object is told apart by Stripe's own type tag (`object`), not by the event type.
 */
export function readStripeEvent(payload: unknown): RemoteEvent {
  const event = payload as Stripe.Event;
  return {
    id: event.id,
    type: event.type,
    created: new Date(event.created * 1000),
    object: eventObject(event.data.object),
  };
}

function eventObject(object: object): RemoteEventObject {
  const tagged = object as { object?: unknown; id?: unknown };
  // An invoice preview (`invoice.upcoming`) has no id: there is nothing of ours it could be.
  if (tagged.object === 'invoice' && typeof tagged.id === 'string') {
    return { kind: 'invoice', invoice: toRemoteInvoice(object as Stripe.Invoice) };
  }
  if (tagged.object === 'payment_intent' && typeof tagged.id === 'string') {
    return { kind: 'payment_intent', paymentIntent: toRemotePaymentIntent(object as Stripe.PaymentIntent) };
  }
  if (tagged.object === 'credit_note' && typeof tagged.id === 'string') {
    return { kind: 'credit_note', creditNote: toRemoteCreditNote(object as Stripe.CreditNote) };
  }
  if (tagged.object === 'charge' && typeof tagged.id === 'string') {
    return { kind: 'charge', charge: toRemoteCharge(object as Stripe.Charge) };
  }
  if (tagged.object === 'subscription') {
    return { kind: 'subscription', subscription: toRemoteSubscription(object as Stripe.Subscription) };
  }
  return { kind: 'other', id: typeof tagged.id === 'string' ? tagged.id : null };
}

/** An event from the API's listing, both read and ready to store. */
export function listedEvent(event: Stripe.Event): ListedEvent {
  return { ...toEventRecord(event), ...readStripeEvent(event) };
}
