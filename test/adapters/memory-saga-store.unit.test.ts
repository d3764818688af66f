import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import { sagaDeadlinesContract } from '../contract/saga-deadlines.contract.ts';

sagaDeadlinesContract('memory', async () => createInMemorySagaStore());
