// The /docs page: Swagger UI (from swagger-ui-dist, bundled into the
// binary) rendering tandem's own OpenAPI document. Nothing is fetched from
// anywhere else: no validator badge, no fonts, no CDN.
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-bundle.js';

SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#docs',
  deepLinking: true,
  validatorUrl: null,
  docExpansion: 'list',
  defaultModelsExpandDepth: 0,
  tryItOutEnabled: false,
});
