import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/**
 * An exact decimal, carried as a string ("0.000002") so no float touches it. Integer and float literals and JSON
 * numbers are accepted and kept as their text; range and precision are checked by the service, which reports a
 * bad value per item instead of failing the whole request.
 */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number as a string, e.g. "0.000002" or "1500".',
  serialize(value) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      return String(value);
    }
    throw new GraphQLError('Decimal cannot represent this value');
  },
  parseValue(value) {
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      // A JSON variable beyond 2^53 has already been rounded by the float it was parsed into (…993 arrives as …992).
      throw new GraphQLError(
        `Decimal given as a JSON number beyond ${Number.MAX_SAFE_INTEGER} may have been rounded in transit: ` +
          'send it as a decimal string',
      );
    }
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
      return String(value);
    }
    throw new GraphQLError('Decimal must be a string or a finite number');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) {
      return ast.value;
    }
    throw new GraphQLError('Decimal must be a string or number literal', { nodes: [ast] });
  },
});
