// Bounds the distinct values one label may take in one VM. A model name comes from request and
// response bodies, i.e. from clients: without a bound, a loop of made-up names would grow
// Envoy's stats store (and Prometheus) without end. Past the bound, new values fold into "other".
import { OTHER } from "./labels";

export class LabelBudget {
  private seen: Set<string> = new Set<string>();
  folded: i64 = 0;

  /** The allow list sorted (config/schema.json bounds its length): a lookup is a binary search,
   *  not a scan of up to 10,000 names per finished request. */
  private allowList: string[];

  constructor(private limit: i32, allowList: string[]) {
    this.allowList = sorted(allowList);
  }

  /** A new configuration's bound and allow list; values already admitted stay admitted (their
   *  stats exist in Envoy for good), new ones count against the new bound. */
  reconfigure(limit: i32, allowList: string[]): void {
    this.limit = limit;
    this.allowList = sorted(allowList);
  }

  private allowed(value: string): bool {
    const list = this.allowList;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const entry = unchecked(list[mid]);
      if (entry == value) return true;
      if (entry < value) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** The value to use for `value`: itself if allowed and within budget, else "other". */
  admit(value: string): string {
    if (this.allowList.length > 0) {
      if (this.allowed(value)) return value;
      this.folded++;
      return OTHER;
    }
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) {
      this.folded++;
      return OTHER;
    }
    this.seen.add(value);
    return value;
  }
}

function sorted(list: string[]): string[] {
  return list.slice(0).sort((a: string, b: string): i32 => (a < b ? -1 : a > b ? 1 : 0));
}
