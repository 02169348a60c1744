export * from './assets';
export * from './engine';
export * from './openclaw';
export * from './cloudinit';
