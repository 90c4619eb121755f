import { registerEnumType } from 'type-graphql';
import { InvoiceLineKind, MetricAggregation, PriceModel } from '../entities/enums';

registerEnumType(MetricAggregation, {
  name: 'MetricAggregation',
  description: 'How a metric turns usage events into a billable quantity for a period.',
});
registerEnumType(PriceModel, { name: 'PriceModel' });
registerEnumType(InvoiceLineKind, { name: 'InvoiceLineKind' });
