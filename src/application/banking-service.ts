import {
  type AccountCommand,
  type AccountEvent,
  type AccountState,
  accountDecider,
  accountStreamName,
  type CashCommandData,
  debitedLegs,
} from '../domain/account/index.ts';
import { DomainError } from '../domain/errors.ts';
import {
  assertTransferRoute,
  currencyOfTransfer,
  type TransferCommand,
  type TransferDetails,
  type TransferEvent,
  type TransferState,
  transferDecider,
  transferStreamName,
} from '../domain/transfer/index.ts';
import {
  type AggregateRepository,
  type CommandContext,
  createAggregateRepository,
} from './aggregate-repository.ts';
import { inParallel } from './in-parallel.ts';
import type { Clock } from './ports/clock.ts';
import type { EventStore } from './ports/event-store.ts';
import type { IdGenerator } from './ports/ids.ts';

/** Who is asking: the request id (causation) and the authenticated principal, when known. */
export type RequestContext = { requestId: string; principal?: string };

export type AccountRepository = AggregateRepository<AccountCommand, AccountEvent, AccountState>;
export type TransferRepository = AggregateRepository<TransferCommand, TransferEvent, TransferState>;

export type BankingServiceDeps = {
  store: EventStore;
  ids: IdGenerator;
  clock: Clock;
  snapshotEvery: number;
  transferDeadlineMs: number;
  onSnapshotError?: (error: unknown) => void;
};

/** The outcome of a command: the aggregate's new state and the global position of its last event. */
export type CommandResult<State> = { state: State; position: number | null };

export type BankingService = ReturnType<typeof createBankingService>;

type CashInput = { accountId: string; amount: number; reference?: string; operationId?: string };

/** How many transfers a close reads at once (an old account may have debited thousands). */
const CLOSE_LOOKUPS_IN_FLIGHT = 32;

/** The write-side use cases (SPEC §2–3); each loads, decides and appends with conflict retries. */
export function createBankingService(deps: BankingServiceDeps) {
  const { store, ids, clock, snapshotEvery, onSnapshotError } = deps;
  const common = { store, ids, snapshotEvery, ...(onSnapshotError ? { onSnapshotError } : {}) };
  const accounts: AccountRepository = createAggregateRepository({
    ...common,
    decider: accountDecider,
    streamName: accountStreamName,
  });
  const transfers: TransferRepository = createAggregateRepository({
    ...common,
    decider: transferDecider,
    streamName: transferStreamName,
  });

  const commandContext = (request: RequestContext, correlationId = request.requestId): CommandContext => ({
    correlationId,
    causationId: request.requestId,
    occurredAt: clock.now().toISOString(),
    ...(request.principal ? { principal: request.principal } : {}),
  });

  const onAccount = async (accountId: string, command: AccountCommand, request: RequestContext) => {
    const { state, position, revision } = await accounts.handle(accountId, command, commandContext(request));
    return { state, position, revision };
  };

  /**
   * The transfers that debited the account and are COMPLETED. Nothing is looked up for an account
   * the close refuses anyway (closed, a held credit, a non-zero balance). COMPLETED is final, so a
   * cached one is believed; any other status is read again. A debit recorded after this look-up is
   * not in the list, so the decider refuses it, whatever the retries see.
   */
  async function settledDebitsOf(accountId: string): Promise<string[]> {
    const { state } = await accounts.load(accountId);
    if (state.status !== 'Open' || state.pending !== 0 || state.available !== 0) return [];
    const isCompleted = async (transferId: string) =>
      (await transfers.lastKnown(transferId)).state.status === 'Completed' ||
      (await transfers.load(transferId)).state.status === 'Completed';
    const debited = debitedLegs(state);
    const completed = await inParallel(debited, CLOSE_LOOKUPS_IN_FLIGHT, isCompleted);
    return debited.filter((_, i) => completed[i]);
  }

  const cashData = ({ operationId, ...movement }: CashInput): CashCommandData =>
    operationId === undefined
      ? movement
      : { ...movement, operation: { id: operationId, at: clock.now().toISOString() } };

  return {
    accounts,
    transfers,
    commandContext,

    async openAccount(
      input: { accountId?: string; ownerId: string; currency: string },
      request: RequestContext,
      /** A client retry (the id came from its Idempotency-Key): the same content again is a no-op. */
      options: { repeatable?: boolean } = {},
    ): Promise<CommandResult<AccountState> & { accountId: string }> {
      const accountId = input.accountId ?? ids.newId();
      const command: AccountCommand = {
        type: 'OpenAccount',
        data: { accountId, ownerId: input.ownerId, currency: input.currency },
      };
      try {
        const { state, position } = await accounts.handle(accountId, command, commandContext(request), {
          expectNew: true,
        });
        return { state, position, accountId };
      } catch (error) {
        if (!options.repeatable || !(error instanceof DomainError)) throw error;
        const { state } = await accounts.load(accountId);
        const same =
          state.status !== 'Unopened' && state.ownerId === input.ownerId && state.currency === input.currency;
        if (!same) throw error;
        return { state, position: null, accountId };
      }
    },

    /**
     * With an `operationId`, the same deposit sent again is booked once (the repeat answers with
     * position null); the id with another amount is refused (OPERATION_ID_REUSED).
     */
    depositCash(input: CashInput, request: RequestContext) {
      return onAccount(input.accountId, { type: 'DepositCash', data: cashData(input) }, request);
    },

    /** As depositCash, for a withdrawal. */
    withdrawCash(input: CashInput, request: RequestContext) {
      return onAccount(input.accountId, { type: 'WithdrawCash', data: cashData(input) }, request);
    },

    /**
     * Refused while a transfer leg is unresolved (SPEC §2): the account refuses a held credit
     * itself; for each debit it still holds, the transfer is looked up here, and only those found
     * COMPLETED are passed on as settled (see CloseAccount).
     */
    async closeAccount(input: { accountId: string }, request: RequestContext) {
      const settledDebits = await settledDebitsOf(input.accountId);
      return onAccount(input.accountId, { type: 'CloseAccount', data: { ...input, settledDebits } }, request);
    },

    /**
     * Checks synchronously what can be checked now (both accounts open, different, same
     * currency, a valid amount), then records TransferRequested with its deadline. The saga
     * coordinator, reading the log, does the rest.
     */
    async requestTransfer(
      input: {
        transferId?: string;
        fromAccountId: string;
        toAccountId: string;
        amount: number;
        reference?: string;
      },
      request: RequestContext,
      options: {
        /** A client retry (the id came from its Idempotency-Key): the same content again returns the transfer. */
        repeatable?: boolean;
        /** May the caller move money out of this account? Throws if not; runs before any other check. */
        authorize?: (from: AccountState) => void;
      } = {},
    ): Promise<CommandResult<TransferState> & { transferId: string }> {
      const transferId = input.transferId ?? ids.newId();
      const sameTransfer = (details: TransferDetails) =>
        details.fromAccountId === input.fromAccountId &&
        details.toAccountId === input.toAccountId &&
        details.amount === input.amount &&
        details.reference === input.reference;
      try {
        assertTransferRoute(input);
        // As this process last knew them: what is checked here (they exist, are open, share a
        // currency, whose they are) is re-checked by the saga against the accounts themselves,
        // and only a close made by another instance a moment ago could be missed here.
        const [from, to] = await Promise.all([
          accounts.lastKnown(input.fromAccountId),
          accounts.lastKnown(input.toAccountId),
        ]);
        options.authorize?.(from.state);
        const currency = currencyOfTransfer(input, from.state, to.state);
        const now = clock.now();
        const command: TransferCommand = {
          type: 'RequestTransfer',
          data: {
            transferId,
            fromAccountId: input.fromAccountId,
            toAccountId: input.toAccountId,
            amount: input.amount,
            currency,
            ...(input.reference === undefined ? {} : { reference: input.reference }),
            deadlineAt: new Date(now.getTime() + deps.transferDeadlineMs).toISOString(),
          },
        };
        const { state, position } = await transfers.handle(
          transferId,
          command,
          commandContext(request, transferId),
          { expectNew: true },
        );
        return { state, position, transferId };
      } catch (error) {
        // A retried request (same id, same content) gets the transfer it created, even if the
        // accounts have changed since.
        if (!options.repeatable || !(error instanceof DomainError)) throw error;
        const { state } = await transfers.load(transferId);
        if (state.status === 'None') throw error;
        if (sameTransfer(state.details)) return { state, position: null, transferId };
        throw new DomainError('TRANSFER_ALREADY_EXISTS', `Transfer ${transferId} exists with other details`);
      }
    },

    loadAccount: (accountId: string) => accounts.load(accountId),
    /** The account as this process last knew it (see state-cache.ts: lastKnown). */
    lastKnownAccount: (accountId: string) => accounts.lastKnown(accountId),
    loadTransfer: (transferId: string) => transfers.load(transferId),
  };
}
