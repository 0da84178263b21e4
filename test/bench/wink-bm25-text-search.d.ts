// The parts of wink-bm25-text-search (plain JavaScript, no bundled types) the benchmark uses.
declare module 'wink-bm25-text-search' {
  interface WinkBm25 {
    defineConfig(config: {
      fldWeights: Record<string, number>;
      bm25Params?: Record<string, number>;
    }): boolean;
    definePrepTasks(tasks: Array<(input: string) => string[]>, field?: string): number;
    addDoc(doc: Record<string, string>, id: string): number;
    consolidate(fp?: number): boolean;
    search(text: string, limit?: number): Array<[string, number]>;
  }
  function winkBm25(): WinkBm25;
  export default winkBm25;
}

declare module 'wink-nlp-utils' {
  type Task = (input: any) => any;
  const nlp: {
    string: { lowerCase: Task; tokenize0: Task };
    tokens: { removeWords: Task; stem: Task; propagateNegations: Task };
  };
  export default nlp;
}
