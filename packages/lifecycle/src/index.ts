export * from './types';
export * from './pending';
