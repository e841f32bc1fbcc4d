/** Where a command writes for a person: lines on stdout, problems on stderr. */
export interface Output {
  log: (line: string) => void;
  error: (line: string) => void;
}

export const consoleOutput: Output = {
  log: (line) => process.stdout.write(`${line}\n`),
  error: (line) => process.stderr.write(`${line}\n`),
};
