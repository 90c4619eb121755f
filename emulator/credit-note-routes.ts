import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { resourceMissing } from './errors';
import { render } from './expand';
import { newestFirst, paginate, PAGE_PARAMS, listParams } from './list';
import { allowOnly, applyMetadata, rangeFilter, str } from './params';
import { buildCreditNote, planCreditNote } from './credit-notes';
import { issueCreditNote, voidCreditNote } from './credit-note-effects';

/** `/v1/credit_notes`: preview, create, retrieve, update, void, list, and their lines. */

const CREATE_PARAMS = [
  'amount',
  'credit_amount',
  'effective_at',
  'email_type',
  'expand',
  'invoice',
  'lines',
  'memo',
  'metadata',
  'out_of_band_amount',
  'reason',
  'refund_amount',
  'refunds',
  'shipping_cost',
] as const satisfies ReadonlyArray<keyof Stripe.CreditNoteCreateParams>;

const LIST_PARAMS = listParams<Stripe.CreditNoteListParams>('created', 'customer', 'customer_account', 'invoice');

function preview(ctx: ApiContext): unknown {
  allowOnly(ctx.params, CREATE_PARAMS);
  const cn = buildCreditNote(ctx.emu, planCreditNote(ctx.emu, ctx.params), applyMetadata({}, ctx.params));
  return render(ctx.emu, cn, ctx.expand);
}

function previewLines(ctx: ApiContext): unknown {
  allowOnly(ctx.params, [...CREATE_PARAMS, 'limit', 'starting_after', 'ending_before']);
  const { limit: _l, starting_after: _s, ending_before: _e, ...params } = ctx.params;
  const plan = planCreditNote(ctx.emu, params);
  return paginate(plan.lines, ctx.params, '/v1/credit_notes/preview/lines', 'credit note line item');
}

function create(ctx: ApiContext): unknown {
  allowOnly(ctx.params, CREATE_PARAMS);
  const plan = planCreditNote(ctx.emu, ctx.params);
  const cn = issueCreditNote(ctx.emu, plan, applyMetadata({}, ctx.params), ctx.request);
  return render(ctx.emu, cn, ctx.expand);
}

function getNote(ctx: ApiContext): Stripe.CreditNote {
  const cn = ctx.emu.state.creditNotes.get(ctx.path.id);
  if (!cn) {
    throw resourceMissing('credit note', ctx.path.id);
  }
  return cn;
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  return render(ctx.emu, getNote(ctx), ctx.expand);
}

function update(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand', 'memo', 'metadata'] satisfies Array<
    keyof Stripe.CreditNoteUpdateParams | 'metadata'
  >);
  const cn = getNote(ctx);
  const previous: Partial<Stripe.CreditNote> = {};
  const memo = str(ctx.params, 'memo');
  if (memo !== undefined && memo !== cn.memo) {
    previous.memo = cn.memo;
    cn.memo = memo;
  }
  const metadata = applyMetadata(cn.metadata ?? {}, ctx.params);
  if (JSON.stringify(metadata) !== JSON.stringify(cn.metadata ?? {})) {
    previous.metadata = cn.metadata;
    cn.metadata = metadata;
  }
  if (Object.keys(previous).length > 0) {
    ctx.emu.emit('credit_note.updated', cn, ctx.request, previous);
  }
  return render(ctx.emu, cn, ctx.expand);
}

function voidRoute(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['expand']);
  const cn = getNote(ctx);
  voidCreditNote(ctx.emu, cn, ctx.request);
  return render(ctx.emu, cn, ctx.expand);
}

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const invoice = str(p, 'invoice');
  const customer = str(p, 'customer');
  const created = rangeFilter(p, 'created');
  const page = paginate(
    invoice === undefined
      ? newestFirst(ctx.emu.state.creditNotes)
      : ctx.emu.state.creditNotes.newestFirstBy('invoice', invoice),
    p,
    '/v1/credit_notes',
    'credit note',
    (c) =>
      (invoice === undefined || c.invoice === invoice) &&
      (customer === undefined || c.customer === customer) &&
      (!created || created(c.created)),
  );
  return { ...page, data: page.data.map((c) => render(ctx.emu, c, ctx.expand, 'data.')) };
}

function lines(ctx: ApiContext): unknown {
  allowOnly(ctx.params, PAGE_PARAMS);
  const cn = getNote(ctx);
  return paginate(cn.lines.data, ctx.params, `/v1/credit_notes/${cn.id}/lines`, 'credit note line item');
}

export function registerCreditNotes(r: ApiRouter): void {
  // `preview` before `:id`: the first route that matches answers.
  r.get('/v1/credit_notes/preview', preview);
  r.get('/v1/credit_notes/preview/lines', previewLines);
  r.post('/v1/credit_notes', create);
  r.get('/v1/credit_notes', list);
  r.get('/v1/credit_notes/:id', retrieve);
  r.post('/v1/credit_notes/:id', update);
  r.post('/v1/credit_notes/:id/void', voidRoute);
  r.get('/v1/credit_notes/:id/lines', lines);
}
