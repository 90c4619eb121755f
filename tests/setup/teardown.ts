import { tearDown } from './global-setup';

export default (): Promise<void> => tearDown();
