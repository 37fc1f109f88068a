import { runService } from '@matchcast/runtime';
import { loadConfig } from './config';
import { startGateway } from './gateway';

void runService('gateway', loadConfig, startGateway, (gateway) => gateway.drain());
