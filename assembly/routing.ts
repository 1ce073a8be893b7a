// Part 1 of the seed's series: the sidecar turns a bare request to a provider host into a valid
// provider call. Providers are selected by request authority; routes (first match wins) pick
// the model by request headers and may switch provider.
import { Config, ModelPolicy, Provider, Route } from "./config";
import { headerValue, HeaderMap } from "./envoy";

export class Routing {
  provider: Provider | null = null;
  route: Route | null = null;
  /** The model to send upstream ("" = leave the request's own). */
  model: string = "";
  policy: ModelPolicy = ModelPolicy.Default;
}

export function decideRouting(config: Config, host: string): Routing {
  const decision = new Routing();
  const provider = config.providerForHost(host);
  if (provider === null) return decision;
  decision.provider = provider;
  decision.model = provider.model;
  decision.policy = ModelPolicy.Default; // a provider's model only fills in a missing one
  for (let i = 0; i < config.routes.length; i++) {
    const route = config.routes[i];
    if (!routeMatches(route)) continue;
    decision.route = route;
    const switched = route.provider;
    if (switched !== null) {
      decision.provider = switched;
      decision.model = switched.model;
    }
    if (route.model.length > 0) {
      decision.model = route.model;
      decision.policy = route.modelPolicy;
    }
    break;
  }
  return decision;
}

function routeMatches(route: Route): bool {
  for (let i = 0; i < route.headers.length; i++) {
    const h = route.headers[i];
    if (!h.match.matches(headerValue(HeaderMap.Request, h.nameBytes))) return false;
  }
  return true;
}

/** The host of an authority: port and IPv6 brackets handled, lowercased. */
export function hostOf(authority: string): string {
  let host = authority;
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    host = close > 0 ? host.substring(0, close + 1) : host;
  } else {
    const colon = host.lastIndexOf(":");
    if (colon >= 0) host = host.substring(0, colon);
  }
  return host.toLowerCase();
}
