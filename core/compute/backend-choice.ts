/**
 * The compute backends a job may ask for. Apart from backend.ts, which loads TensorFlow.js, so
 * that the config layer can validate `backend` in the coordinator without loading it.
 */
export const BACKEND_CHOICES = ['auto', 'native', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
