/** "Did you mean …?" for misspelt keys, algorithm names and target group names. */

/** Levenshtein distance (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitute)
    }
    previous = current
  }
  return previous[b.length]
}

/**
 * The closest candidate, if it is close enough to be a likely typo: a different case, or at most one edit
 * per three characters (so "forwrd" -> "forward", but "x" suggests nothing).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  // Long inputs cannot be typos of our short names, and the distance is quadratic: don't spend time on them.
  if (word.length > 64) return undefined
  const lower = word.toLowerCase()
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === lower) return candidate
    const distance = editDistance(lower, candidate.toLowerCase())
    const limit = Math.max(1, Math.floor(Math.max(word.length, candidate.length) / 3))
    if (distance <= limit && distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** `; did you mean "forward"?`, or nothing when no candidate is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates)
  return match === undefined ? '' : `; did you mean ${JSON.stringify(match)}?`
}
