// Calls to the admin API. With admin.token set, the API answers 401 until the page sends the token: we ask
// for it once (a small dialog), keep it for this tab in sessionStorage, and retry.

const KEY = 'fulcrum.adminToken'

export class Cancelled extends Error {
  constructor() { super('no token given') }
}

export function storedToken() {
  return sessionStorage.getItem(KEY)
}

/** The event stream's URL: EventSource cannot send headers, so the token rides in ?token=. */
export function eventsUrl() {
  const token = storedToken()
  return token === null ? '/api/v1/events' : `/api/v1/events?token=${encodeURIComponent(token)}`
}

/**
 * Calls the API and returns its JSON. On 401 asks for the token (`why` says what for) and retries;
 * throws Cancelled when the dialog is dismissed, an Error with the API's message on other failures.
 */
export async function call(method, path, body, why = 'continue') {
  for (let refused = false; ; refused = true) {
    const token = storedToken()
    const headers = { accept: 'application/json' }
    if (token !== null) headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    if (res.status === 401) {
      const entered = await askToken(why, refused || token !== null)
      if (entered === null) throw new Cancelled()
      sessionStorage.setItem(KEY, entered)
      continue
    }
    const data = await res.json().catch(() => ({}))
    if (!res.ok) throw new Error(data?.error?.message ?? `${method} ${path} answered ${res.status}`)
    return data
  }
}

let pending = null

/** Shows the token dialog; resolves with the token, or null when dismissed. One dialog at a time. */
export function askToken(why, refused) {
  if (pending !== null) return pending
  const dialog = document.getElementById('token-dialog')
  const form = dialog.querySelector('form')
  const input = dialog.querySelector('input')
  dialog.querySelector('[data-why]').textContent = why
  dialog.querySelector('[data-error]').hidden = !refused
  input.value = ''
  pending = new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener('submit', submit)
      dialog.removeEventListener('close', cancel)
      pending = null
      resolve(value)
    }
    const submit = (e) => {
      e.preventDefault()
      const value = input.value.trim()
      if (value === '') { input.focus(); return }
      done(value)
      dialog.close()
    }
    const cancel = () => done(null)
    form.addEventListener('submit', submit)
    dialog.addEventListener('close', cancel)
    dialog.querySelector('[data-cancel]').onclick = () => dialog.close()
    dialog.showModal()
    input.focus()
  })
  return pending
}
