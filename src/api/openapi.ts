import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';
import { parse } from 'yaml';

/** `src/api/openapi.yaml`, next to this file in the sources and copied next to it by the build. */
export const OPENAPI_PATH = path.join(__dirname, 'openapi.yaml');

export function loadOpenApiDocument(file = OPENAPI_PATH): OpenAPIV3.DocumentV3 {
  return parse(readFileSync(file, 'utf8')) as OpenAPIV3.DocumentV3;
}
