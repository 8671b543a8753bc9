import { parentPort } from 'node:worker_threads';

// A thread that takes every message and never answers: a stuck search lane, for its tests.
parentPort.on('message', () => undefined);
