// The child process that imports a package to inspect it (`skills add`, `validate`, `doctor`'s packages): started by
// sandbox.ts under Node's permission model with an empty environment, it runs checkPackage on the folder it is
// sent and sends the verdict back over IPC. Whatever the package's top-level code tries, it has no secrets to
// read, can read only the app and Robutler's own install, and can write nothing, start no process and no worker.
import { checkPackage, type CheckOptions, type PackageCheck } from './check-package.js'

interface Request {
  folder: string
  options: CheckOptions
}

/** Problems as plain data: a `cause` (an Error) does not cross IPC and is never printed anyway. */
function plain(check: PackageCheck): PackageCheck {
  const strip = (list: PackageCheck['problems']) => list.map(({ cause: _cause, ...rest }) => rest)
  return { ...check, problems: strip(check.problems), warnings: strip(check.warnings) }
}

process.once('message', (request: Request) => {
  checkPackage(request.folder, request.options).then(
    (check) => process.send!({ check: plain(check) }, () => process.exit(0)),
    (error: unknown) => process.send!({ error: String((error as Error)?.message ?? error) }, () => process.exit(0)),
  )
})
