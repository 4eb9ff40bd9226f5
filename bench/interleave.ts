/**
 * Workloads run interleaved across the systems of a benchmark.
 */
import { combine, formatCount, settle, type Sample, type Summary } from './measure.ts'

export interface Participant {
  name: string
  run: (from: number, to: number) => Promise<Sample>
}

/**
 * Runs one workload over [0, total) for every participant, interleaved: the range is cut into
 * rounds, and in each round every participant runs its slice, in an order rotated from round to
 * round. A drift of the machine's speed during the phase (this disk's sync rate varies several-
 * fold over minutes) then weighs on all of them alike.
 */
export async function interleave(
  label: string,
  total: number,
  participants: Participant[],
  roundsWanted: number,
  log: (line: string) => void,
): Promise<Map<string, Summary>> {
  const rounds = Math.max(1, Math.min(roundsWanted, total))
  const samples = new Map<string, Sample[]>(participants.map((participant) => [participant.name, []]))
  const started = performance.now()
  for (let round = 0; round < rounds; round++) {
    const from = Math.floor((total * round) / rounds)
    const to = Math.floor((total * (round + 1)) / rounds)
    for (let turn = 0; turn < participants.length; turn++) {
      const participant = participants[(turn + round) % participants.length]!
      samples.get(participant.name)!.push(await participant.run(from, to))
      await settle()
    }
  }
  const summaries = new Map<string, Summary>()
  for (const [name, list] of samples) summaries.set(name, combine(list))
  log(
    `${label} (${((performance.now() - started) / 1000).toFixed(1)} s): ` +
      [...summaries].map(([name, summary]) => `${name} ${formatCount(summary.opsPerSecond)}/s`).join(', '),
  )
  return summaries
}
