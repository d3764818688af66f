import { ACCOUNT_EVENT_TYPES, type AccountEvent, type AccountOpened } from '../domain/account/events.ts';
import { assertNever } from '../domain/decider.ts';
import {
  TRANSFER_EVENT_TYPES,
  type TransferEvent,
  type TransferRequested,
} from '../domain/transfer/events.ts';
import type { RecordedEvent } from './ports/event-store.ts';

/**
 * Public integration events (SPEC §10): what other services hear about accounts and transfers. A
 * versioned contract of its own: the names and fields below change only with `version`, whatever
 * happens to the internal events they are made from.
 */
export const INTEGRATION_EVENT_VERSION = 1;

type TransferFacts = {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  currency: string;
};

/** The `data` of each public event type; the type is also the routing key. */
export type IntegrationEventData = {
  'account.opened': { accountId: string; ownerId: string; currency: string };
  'account.cash-deposited': { accountId: string; amount: number; currency: string };
  'account.cash-withdrawn': { accountId: string; amount: number; currency: string };
  'account.closed': { accountId: string; currency: string };
  'transfer.requested': TransferFacts;
  'transfer.completed': TransferFacts;
  'transfer.cancelled': TransferFacts & { reason: string };
};

export type IntegrationEventType = keyof IntegrationEventData;

export type IntegrationEvent = {
  [Type in IntegrationEventType]: {
    /** The internal event's id: stable, the same on every redelivery (the AMQP message_id). */
    id: string;
    type: Type;
    version: typeof INTEGRATION_EVENT_VERSION;
    occurredAt: string;
    /** Global log position: increases along the log, so along each transfer's events. */
    position: number;
    data: IntegrationEventData[Type];
  };
}[IntegrationEventType];

/** The internal event types that become public ones; every other internal event stays inside. */
export const PUBLISHED_EVENT_TYPES = [
  'AccountOpened',
  'CashDeposited',
  'CashWithdrawn',
  'AccountClosed',
  'TransferRequested',
  'TransferCompleted',
  'TransferCancelled',
] as const;

type InternalEvent = AccountEvent | TransferEvent;

const INTERNAL_TYPES: ReadonlySet<string> = new Set([...ACCOUNT_EVENT_TYPES, ...TRANSFER_EVENT_TYPES]);

const isInternalEvent = (event: { type: string }): boolean => INTERNAL_TYPES.has(event.type);

/** An event's own stream opens with the facts a public event repeats (an account's currency, a transfer's parties). */
function openingData(event: RecordedEvent, opening: RecordedEvent, type: InternalEvent['type']) {
  if (opening.streamName !== event.streamName || opening.revision !== 0 || opening.type !== type) {
    throw new Error(
      `${event.streamName} does not open with ${type} (got ${opening.type} at ${opening.revision})`,
    );
  }
  return opening.data;
}

const transferFacts = ({
  transferId,
  fromAccountId,
  toAccountId,
  amount,
  currency,
}: TransferRequested['data']) => ({
  transferId,
  fromAccountId,
  toAccountId,
  amount,
  currency,
});

/**
 * The public event for an internal one, or null when it has none. Pure. `opening` is the first
 * event (revision 0) of `event`'s stream: the account's AccountOpened gives its currency (a cash
 * movement carries none), the transfer's TransferRequested its parties, amount and currency.
 */
export function toIntegrationEvent(event: RecordedEvent, opening: RecordedEvent): IntegrationEvent | null {
  if (!isInternalEvent(event)) return null;
  const internal = event as unknown as InternalEvent;
  /** Fields in the order of SPEC §10's body. */
  const published = <Type extends IntegrationEventType>(type: Type, data: IntegrationEventData[Type]) =>
    ({
      id: event.id,
      type,
      version: INTEGRATION_EVENT_VERSION,
      occurredAt: event.metadata.occurredAt,
      position: event.position,
      data,
    }) as IntegrationEvent;
  const currency = () => (openingData(event, opening, 'AccountOpened') as AccountOpened['data']).currency;
  const cash = ({ accountId, amount }: { accountId: string; amount: number }) => ({
    accountId,
    amount,
    currency: currency(),
  });
  const transfer = () =>
    transferFacts(openingData(event, opening, 'TransferRequested') as TransferRequested['data']);
  switch (internal.type) {
    case 'AccountOpened': {
      const { accountId, ownerId, currency } = internal.data;
      return published('account.opened', { accountId, ownerId, currency });
    }
    case 'CashDeposited':
      return published('account.cash-deposited', cash(internal.data));
    case 'CashWithdrawn':
      return published('account.cash-withdrawn', cash(internal.data));
    case 'AccountClosed':
      return published('account.closed', { accountId: internal.data.accountId, currency: currency() });
    case 'TransferRequested':
      return published('transfer.requested', transferFacts(internal.data));
    case 'TransferCompleted':
      return published('transfer.completed', transfer());
    case 'TransferCancelled':
      return published('transfer.cancelled', { ...transfer(), reason: String(internal.data.reason) });
    case 'TransferCreditHeld':
    case 'TransferCreditRefused':
    case 'TransferCreditReleased':
    case 'TransferCreditCancelled':
    case 'TransferDebited':
    case 'TransferDebitRejected':
    case 'TransferDebitVoided':
    case 'TransferDebitRefunded':
    case 'TransferCreditRecorded':
    case 'TransferDebitRecorded':
    case 'TransferCompensationRecorded':
      return null;
    default:
      return assertNever(internal);
  }
}

/** The transfer a public event is about (its correlation id), if any. */
export const correlationIdOf = (event: IntegrationEvent): string | undefined =>
  'transferId' in event.data ? event.data.transferId : undefined;
