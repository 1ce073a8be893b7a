// String matchers for request paths and header values (exact, prefix, suffix, contains,
// present). Regular expressions are not offered: AssemblyScript has no regex engine, and a
// backtracking one in every sidecar would be a denial-of-service lever.
export const enum MatchKind { Exact = 0, Prefix = 1, Suffix = 2, Contains = 3, Present = 4 }

export class StringMatch {
  constructor(public kind: MatchKind, public value: string) {}

  matches(s: string | null): bool {
    if (s === null) return false;
    switch (this.kind) {
      case MatchKind.Exact: return s == this.value;
      case MatchKind.Prefix: return s.startsWith(this.value);
      case MatchKind.Suffix: return s.endsWith(this.value);
      case MatchKind.Contains: return s.includes(this.value);
      default: return true;
    }
  }
}
