export const NODE_LTS: string;
export function nodeLts(): string;
