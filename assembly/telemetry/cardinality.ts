// Bounds the distinct values one label may take in one VM. A model name comes from request and
// response bodies, i.e. from clients: without a bound, a loop of made-up names would grow
// Envoy's stats store (and Prometheus) without end. Past the bound, new values fold into "other".
import { OTHER } from "./labels";

export class LabelBudget {
  private seen: Set<string> = new Set<string>();
  folded: i64 = 0;

  constructor(private limit: i32, private allowList: string[]) {}

  /** The value to use for `value`: itself if allowed and within budget, else "other". */
  admit(value: string): string {
    if (this.allowList.length > 0) {
      if (this.allowList.includes(value)) return value;
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
