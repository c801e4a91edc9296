// The files `robutler skills new` writes: a skill package that builds with tsc and tests with node:test as
// generated, needing nothing but typescript, @types/node and @robutler/kernel (its devDependencies).

export interface SkillNames {
  /** The npm name: `robutler-skill-weather` or the scoped name given. */
  packageName: string
  /** The folder it is written to, relative to the current one. */
  dir: string
  /** `defineSkill({ name })`: `weather`. */
  skillName: string
  /** Prefix of its tool names (unique across an agent's skills): `weather`. */
  toolPrefix: string
  /** Its config interface: `WeatherConfig`. */
  configType: string
}

function packageJson(names: SkillNames, kernelRange: string): string {
  const json = {
    name: names.packageName,
    version: '1.0.0',
    description: `A Robutler skill: ${names.skillName}`,
    type: 'module',
    license: 'MIT',
    keywords: ['robutler-skill', 'robutler'],
    exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
    files: ['dist', '!dist/*.test.*', 'config.schema.json'],
    engines: { node: '>=20.19' },
    scripts: {
      build: 'tsc',
      test: 'node --test dist/*.test.js',
      prepublishOnly: 'npm run build && npm test',
    },
    peerDependencies: { '@robutler/kernel': kernelRange },
    devDependencies: { '@robutler/kernel': kernelRange, '@types/node': '^20.19.0', typescript: '^5.9.0' },
    robutler: {
      kind: 'skill',
      kernel: kernelRange,
      provides: [`skill:${names.skillName}`],
      requires: [],
      config: './config.schema.json',
      worker: './dist/worker.js',
    },
  }
  return JSON.stringify(json, null, 2) + '\n'
}

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2023"],
    "types": ["node"],
    "strict": true,
    "declaration": true,
    "sourceMap": true,
    "skipLibCheck": true,
    "rootDir": "src",
    "outDir": "dist"
  },
  "include": ["src"]
}
`

function configSchema(names: SkillNames): string {
  const schema = {
    title: names.packageName,
    description: `Config of the ${names.skillName} skill: the top-level \`skills\` entry, overridden per agent. Every key is optional.`,
    type: 'object',
    additionalProperties: false,
    properties: {
      greeting: { type: 'string', minLength: 1, maxLength: 100, default: 'Hello', description: 'The word greetings start with' },
    },
  }
  return JSON.stringify(schema, null, 2) + '\n'
}

function indexTs({ packageName, skillName, toolPrefix, configType }: SkillNames): string {
  return `// ${packageName}: a Robutler skill. This module declares the tools: ${toolPrefix}_greet runs in process,
// ${toolPrefix}_word_count in the kernel's worker pool (its code is in ./worker.ts, which the pool threads load).
import { defineSkill, type JsonSchema, type SkillTool } from '@robutler/kernel'

/** This skill's config (config.schema.json): the top-level \`skills\` entry, overridden per agent. */
export interface ${configType} {
  /** The word greetings start with (default "Hello"). */
  greeting?: string
}

// Module-level schemas: the kernel compiles each once, however many agents use the skill.
const greetParameters: JsonSchema = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 100, description: 'Who to greet' } },
  required: ['name'],
  additionalProperties: false,
}

const wordCountParameters: JsonSchema = {
  type: 'object',
  properties: { text: { type: 'string', maxLength: 1_000_000, description: 'The text to count' } },
  required: ['text'],
  additionalProperties: false,
}

export default defineSkill<${configType}>({
  name: ${JSON.stringify(skillName)},
  setup(config) {
    const greeting = config.greeting ?? 'Hello'
    const greet: SkillTool = {
      name: '${toolPrefix}_greet',
      description: 'Greets someone by name',
      parameters: greetParameters,
      run: ({ name }) => \`\${greeting}, \${name}!\`,
      // \`robutler skills validate\` runs every example and checks its result.
      examples: [{ arguments: { name: 'Ada' }, result: \`\${greeting}, Ada!\` }],
    }
    const wordCount: SkillTool = {
      name: '${toolPrefix}_word_count',
      description: 'Counts the words and characters of a text exactly',
      parameters: wordCountParameters,
      worker: 'wordCount',
      timeoutMs: 10_000,
      examples: [{ arguments: { text: 'the quick brown fox' }, result: { words: 4, characters: 19 } }],
    }
    return {
      tools: [greet, wordCount],
      prompts: [{ priority: 50, text: 'Use ${toolPrefix}_word_count to count the words of a text rather than estimating.' }],
    }
  },
})
`
}

function workerTs({ packageName }: SkillNames): string {
  return `// ${packageName}'s worker module (the manifest's robutler.worker): the functions the kernel's worker pool runs.
// Each takes the tool's arguments (one JSON object) and returns JSON. It imports nothing from the kernel.

export interface WordCountArgs {
  text: string
}

export interface WordCount {
  words: number
  characters: number
}

/**
 * Counts the words (runs of non-space characters) and the characters of a text.
 * @example
 * wordCount({ text: 'the quick brown fox' }) // → { words: 4, characters: 19 }
 */
export function wordCount({ text }: WordCountArgs): WordCount {
  // Called with the arguments the model wrote: the kernel checked them against the schema, but check the type anyway.
  if (typeof text !== 'string') throw new TypeError('text must be a string')
  return { words: text.match(/\\S+/g)?.length ?? 0, characters: [...text].length }
}
`
}

function testTs({ toolPrefix }: SkillNames): string {
  return `// \`npm test\`: node:test over the built files (\`npm run build\` first).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SkillApi, ToolRunContext } from '@robutler/kernel'
import skill from './index.js'
import { wordCount } from './worker.js'

// setup and run get these from the kernel; the tools here use neither, so empty stand-ins do.
const api = {} as SkillApi
const ctx = { signal: new AbortController().signal } as ToolRunContext
const workers: Record<string, (args: any) => unknown> = { wordCount }

test('${toolPrefix}_greet starts with the configured greeting', async () => {
  const parts = await skill.setup({ greeting: 'Hi' }, api)
  const greet = parts.tools?.find((tool) => tool.name === '${toolPrefix}_greet')
  assert.equal(await greet?.run?.({ name: 'Ada' }, ctx), 'Hi, Ada!')
})

test('wordCount counts words and characters', () => {
  assert.deepEqual(wordCount({ text: '  one two\\tthree ' }), { words: 3, characters: 16 })
  assert.deepEqual(wordCount({ text: '' }), { words: 0, characters: 0 })
})

test('every example answers its result', async () => {
  const parts = await skill.setup({}, api)
  for (const tool of parts.tools ?? []) {
    for (const example of tool.examples ?? []) {
      const answer = tool.run ? await tool.run(example.arguments, ctx) : workers[tool.worker!]!(example.arguments)
      assert.deepEqual(answer, example.result, tool.name)
    }
  }
})
`
}

function readme({ packageName, skillName, toolPrefix }: SkillNames): string {
  return `# ${packageName}

A Robutler skill: \`${skillName}\`.

| tool | runs | does |
|---|---|---|
| \`${toolPrefix}_greet {name}\` | in process | greets someone, with the configured \`greeting\` |
| \`${toolPrefix}_word_count {text}\` | in the worker pool | counts the words and characters of a text |

## Use it

\`\`\`sh
npx robutler skills add ${packageName} --agent support
\`\`\`

installs it, enables it in \`robutler.config.json\` and attaches it to the agent \`support\`:

\`\`\`json
{ "skills": { "${packageName}": {} },
  "agents": [{ "name": "support", "model": "openai/gpt-4o", "skills": { "${packageName}": { "greeting": "Hi" } } }] }
\`\`\`

Config (\`config.schema.json\`): \`greeting\` (default \`"Hello"\`).

## Develop it

\`\`\`sh
npm install
npm run build && npm test        # tsc, then node:test over dist/
npx robutler skills validate     # manifest, exports, schemas, worker exports, and every tool example
npm publish                      # builds and tests first (prepublishOnly)
\`\`\`

Keep \`robutler.kernel\` and \`peerDependencies['@robutler/kernel']\` equal: \`robutler skills add\` installs only the
versions whose range accepts the operator's kernel.
`
}

const GITIGNORE = 'node_modules/\ndist/\n*.tgz\n'

/** Every file of a new skill package, by path relative to its folder. */
export function skillFiles(names: SkillNames, kernelRange: string): Record<string, string> {
  return {
    'package.json': packageJson(names, kernelRange),
    'tsconfig.json': TSCONFIG,
    'config.schema.json': configSchema(names),
    'src/index.ts': indexTs(names),
    'src/worker.ts': workerTs(names),
    'src/index.test.ts': testTs(names),
    'README.md': readme(names),
    '.gitignore': GITIGNORE,
  }
}
