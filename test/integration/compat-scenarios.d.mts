declare const scenarios: Record<string, (string[] | { c: string[]; sort?: boolean })[]>;
export default scenarios;
