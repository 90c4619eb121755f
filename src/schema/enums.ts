import { registerEnumType } from 'type-graphql';
import { InvoiceLineKind, MetricAggregation, PaymentLimitScope, PriceModel } from '../entities/enums';

registerEnumType(MetricAggregation, {
  name: 'MetricAggregation',
  description: 'How a metric turns usage events into a billable quantity for a period.',
});
registerEnumType(PriceModel, { name: 'PriceModel' });
registerEnumType(InvoiceLineKind, { name: 'InvoiceLineKind' });
registerEnumType(PaymentLimitScope, {
  name: 'PaymentLimitScope',
  description: "What a payment attempt limit counts: one invoice's failed attempts, or all of one user's.",
});
