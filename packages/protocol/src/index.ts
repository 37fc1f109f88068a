export * from './errors';
export * from './channels';
export * from './messages';
export * from './routing';
export * from './topics';
export * from './client-messages';
export * from './server-messages';
export * from './bus';
