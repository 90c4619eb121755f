import { setUp } from './global-setup';

export default (): Promise<void> => setUp({ build: false });
