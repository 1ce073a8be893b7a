// Generated from config/schema.json by scripts/config-schema.mjs: do not edit (run `npm run build`).
// The keys each configuration object allows, the bounds of each integer field and of bounded lists.

export const CONFIG_KEYS: string[] = ["providers", "routes", "apiPaths", "maxRewriteBodyBytes", "maxModels", "modelAllowList", "maxDestinations", "debug", "acceptEncoding", "identity", "direction", "metricNames", "pricing"];
export const MAX_REWRITE_BODY_BYTES_MIN: i32 = 1;
export const MAX_REWRITE_BODY_BYTES_MAX: i32 = 67108864;
export const MAX_REWRITE_BODY_BYTES_DEFAULT: i32 = 524288;
export const MAX_MODELS_MIN: i32 = 1;
export const MAX_MODELS_MAX: i32 = 10000;
export const MAX_MODELS_DEFAULT: i32 = 100;
export const MODEL_ALLOW_LIST_MAX_ITEMS: i32 = 10000;
export const MODEL_ALLOW_LIST_ITEM_MAX_LENGTH: i32 = 256;
export const MAX_DESTINATIONS_MIN: i32 = 1;
export const MAX_DESTINATIONS_MAX: i32 = 10000;
export const MAX_DESTINATIONS_DEFAULT: i32 = 100;
export const PROVIDERS_KEYS: string[] = ["name", "hosts", "api", "path", "apiKeyEnv", "apiKey", "model", "includeUsage", "dropAcceptEncoding"];
export const ROUTES_KEYS: string[] = ["name", "match", "model", "modelPolicy", "provider"];
export const ROUTES_MATCH_KEYS: string[] = ["headers"];
export const ROUTES_MATCH_HEADERS_KEYS: string[] = ["name", "exact", "prefix", "suffix", "contains", "present", "regex"];
export const API_PATHS_KEYS: string[] = ["exact", "prefix", "suffix", "contains", "api"];
export const IDENTITY_KEYS: string[] = ["serviceAccount", "principal", "trustDomain", "headers", "apiKeyHash", "maxValues"];
export const IDENTITY_HEADERS_MAX_ITEMS: i32 = 8;
export const IDENTITY_MAX_VALUES_MIN: i32 = 1;
export const IDENTITY_MAX_VALUES_MAX: i32 = 10000;
export const IDENTITY_MAX_VALUES_DEFAULT: i32 = 100;
export const IDENTITY_HEADERS_KEYS: string[] = ["name", "label"];
export const PRICING_KEYS: string[] = ["currency", "models"];
export const PRICING_MODELS_MAX_ITEMS: i32 = 10000;
export const PRICING_MODELS_KEYS: string[] = ["model", "input", "cachedInput", "cacheWrite", "output"];
