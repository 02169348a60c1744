export * from './dotenv';
export * from './versions';
export * from './problems';
export * from './spec';
export * from './validate';
export * from './load';
export * from './reporter';
