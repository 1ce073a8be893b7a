// One API shape: which request paths and which response paths carry the model and the usage.
// Shapes are tables, not code: the scanner does the walking. See openai.ts, dashscope.ts,
// anthropic.ts; registry.ts lists them and the URL paths that select them.
import { PathTrie } from "../json/paths";

export class ApiShape {
  request: PathTrie = new PathTrie();
  response: PathTrie = new PathTrie();
  constructor(
    public name: string,
    /** Whether usage values in a stream are running totals (take the last) — true for every
     *  shape so far; a shape whose events carried deltas would need summing instead. */
    public cumulativeStreamUsage: bool = true,
  ) {}

  requestField(path: string, field: i32): ApiShape {
    this.request.add(path, field);
    return this;
  }

  responseField(path: string, field: i32): ApiShape {
    this.response.add(path, field);
    return this;
  }
}
