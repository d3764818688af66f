/**
 * npm run watch:events [-- --pattern 'transfer.*' --exchange esbank.events]: prints the
 * integration events the relay publishes (SPEC §10), one JSON line each, from a private queue
 * bound to the exchange (deleted when this exits). BROKER_URL as for the service (default the
 * local broker as guest).
 */
import { parseArgs } from 'node:util';
import { connect } from 'amqplib';

const { values } = parseArgs({
  options: {
    exchange: { type: 'string', default: process.env.BROKER_EXCHANGE ?? 'esbank.events' },
    pattern: { type: 'string', default: '#' },
  },
});
const url = process.env.BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const connection = await connect(url);
const channel = await connection.createChannel();
await channel.assertExchange(values.exchange, 'topic', { durable: true });
const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
await channel.bindQueue(queue, values.exchange, values.pattern);
process.stderr.write(`watching ${values.exchange} for ${values.pattern} (Ctrl-C to stop)\n`);
await channel.consume(
  queue,
  (message) => {
    if (!message) return;
    const { messageId, correlationId } = message.properties;
    process.stdout.write(
      `${JSON.stringify({ messageId, correlationId, routingKey: message.fields.routingKey, redelivered: message.fields.redelivered, body: JSON.parse(message.content.toString()) })}\n`,
    );
  },
  { noAck: true },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void connection.close().finally(() => process.exit(0)));
}
