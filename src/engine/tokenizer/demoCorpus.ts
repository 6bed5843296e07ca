/**
 * A synthetic assistant-style dialogue corpus for the built-in demo model: short user questions with short,
 * correct, polite answers (arithmetic, capitals, colors, animals, opposites, plurals, spelling, counting, days,
 * comparisons, greetings, and a few refusals of harmful requests). It is small enough to train the tiny model's
 * tokenizer and an SFT demo in minutes on a laptop CPU, and regular enough that a few-million-parameter model
 * visibly learns to answer.
 *
 * Everything is generated from a seeded generator: the same seed gives the same corpus, byte for byte.
 */
import { Rng } from '../rng';
import { ChatMessage } from './tokenizer';

export interface Dialogue {
  messages: ChatMessage[];
  /** The family of question, for stratified splits and per-topic metrics. */
  topic: string;
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

const CAPITALS: [string, string][] = [
  ['France', 'Paris'],
  ['Germany', 'Berlin'],
  ['Italy', 'Rome'],
  ['Spain', 'Madrid'],
  ['Portugal', 'Lisbon'],
  ['Japan', 'Tokyo'],
  ['China', 'Beijing'],
  ['India', 'New Delhi'],
  ['Egypt', 'Cairo'],
  ['Kenya', 'Nairobi'],
  ['Canada', 'Ottawa'],
  ['Mexico', 'Mexico City'],
  ['Brazil', 'Brasilia'],
  ['Argentina', 'Buenos Aires'],
  ['Peru', 'Lima'],
  ['Australia', 'Canberra'],
  ['Norway', 'Oslo'],
  ['Sweden', 'Stockholm'],
  ['Finland', 'Helsinki'],
  ['Poland', 'Warsaw'],
  ['Greece', 'Athens'],
  ['Turkey', 'Ankara'],
  ['Russia', 'Moscow'],
  ['Ireland', 'Dublin'],
  ['Austria', 'Vienna'],
  ['Belgium', 'Brussels'],
  ['Netherlands', 'Amsterdam'],
  ['Thailand', 'Bangkok'],
  ['Vietnam', 'Hanoi'],
  ['South Korea', 'Seoul'],
];

const COLORS: [string, string][] = [
  ['the sky on a clear day', 'blue'],
  ['grass', 'green'],
  ['a ripe banana', 'yellow'],
  ['snow', 'white'],
  ['coal', 'black'],
  ['a ripe tomato', 'red'],
  ['an orange', 'orange'],
  ['a lemon', 'yellow'],
  ['a carrot', 'orange'],
  ['milk', 'white'],
  ['a strawberry', 'red'],
  ['the sun in a drawing', 'yellow'],
  ['a lime', 'green'],
  ['a blueberry', 'blue'],
  ['chocolate', 'brown'],
  ['an eggplant', 'purple'],
];

const ANIMALS: [string, string][] = [
  ['cow', 'moo'],
  ['dog', 'woof'],
  ['cat', 'meow'],
  ['duck', 'quack'],
  ['sheep', 'baa'],
  ['pig', 'oink'],
  ['horse', 'neigh'],
  ['owl', 'hoot'],
  ['lion', 'roar'],
  ['frog', 'ribbit'],
  ['bee', 'buzz'],
  ['snake', 'hiss'],
];

const LEGS: [string, number][] = [
  ['spider', 8],
  ['dog', 4],
  ['bird', 2],
  ['ant', 6],
  ['horse', 4],
  ['chicken', 2],
  ['octopus', 8],
  ['beetle', 6],
  ['cat', 4],
  ['snake', 0],
];

const OPPOSITES: [string, string][] = [
  ['hot', 'cold'],
  ['big', 'small'],
  ['fast', 'slow'],
  ['up', 'down'],
  ['happy', 'sad'],
  ['light', 'dark'],
  ['open', 'closed'],
  ['early', 'late'],
  ['full', 'empty'],
  ['old', 'new'],
  ['loud', 'quiet'],
  ['hard', 'soft'],
  ['wet', 'dry'],
  ['day', 'night'],
  ['left', 'right'],
  ['strong', 'weak'],
];

const PLURALS: [string, string][] = [
  ['mouse', 'mice'],
  ['child', 'children'],
  ['foot', 'feet'],
  ['tooth', 'teeth'],
  ['person', 'people'],
  ['goose', 'geese'],
  ['box', 'boxes'],
  ['city', 'cities'],
  ['leaf', 'leaves'],
  ['fish', 'fish'],
  ['book', 'books'],
  ['knife', 'knives'],
];

const WORDS_TO_SPELL = ['cat', 'dog', 'tree', 'house', 'water', 'apple', 'green', 'river', 'music', 'happy', 'light', 'table', 'bread', 'cloud'];

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const RHYMES: [string, string][] = [
  ['cat', 'hat'],
  ['dog', 'log'],
  ['sun', 'fun'],
  ['tree', 'bee'],
  ['car', 'star'],
  ['cake', 'lake'],
  ['night', 'light'],
  ['rain', 'train'],
  ['moon', 'spoon'],
  ['bed', 'red'],
];

const GREETINGS: [string, string][] = [
  ['Hello!', 'Hello! How can I help you today?'],
  ['Hi there.', 'Hi! What would you like to know?'],
  ['Good morning!', 'Good morning! How can I help?'],
  ['Thank you!', "You're welcome!"],
  ['Thanks for the help.', "You're welcome. I'm glad I could help."],
  ['Who are you?', 'I am a small assistant model. I answer short questions.'],
  ['What can you do?', 'I can answer simple questions about numbers, words, animals, colors and places.'],
  ['Goodbye!', 'Goodbye! Have a nice day.'],
  ['How are you?', "I'm doing well, thank you. How can I help you?"],
];

const REFUSALS: [string, string][] = [
  ['How do I break into my neighbor\'s house?', "I can't help with breaking into someone's home. If you are locked out of your own home, a locksmith can help."],
  ['Tell me how to make a weapon to hurt someone.', "I can't help with hurting people. If you feel unsafe, please contact local emergency services."],
  ['Write an insult about my coworker.', "I'd rather not write insults. I can help you write a calm message about the problem instead."],
  ['How can I cheat on my exam?', "I can't help with cheating. I can help you make a study plan instead."],
  ['Give me someone\'s home address.', "I can't share private information about people."],
];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One question with its correct answer and a plausible wrong one (for preference pairs). */
interface Item {
  q: string;
  a: string;
  wrong: string;
}

type Gen = (rng: Rng) => Item;

/** A different element of `xs` than `x`. */
function other<T>(rng: Rng, xs: readonly T[], x: T): T {
  let y = pick(rng, xs);
  for (let i = 0; i < 20 && y === x; i++) y = pick(rng, xs);
  return y;
}

/** `n` shifted by a nonzero amount in [-3, 3], kept >= 0. */
function offBy(rng: Rng, n: number): number {
  const d = [1, 2, 3][rng.int(3)] * (rng.int(2) ? 1 : -1);
  return n + d >= 0 ? n + d : n - d;
}

const GENERATORS: Record<string, Gen> = {
  addition: (rng) => {
    const a = rng.int(21);
    const b = rng.int(21);
    const q = pick(rng, [`What is ${a} plus ${b}?`, `What is ${a} + ${b}?`, `Add ${a} and ${b}.`, `Can you add ${a} and ${b}?`]);
    return { q, a: `${a} plus ${b} is ${a + b}.`, wrong: `${a} plus ${b} is ${offBy(rng, a + b)}.` };
  },
  subtraction: (rng) => {
    const a = rng.int(21);
    const b = rng.int(a + 1);
    const q = pick(rng, [`What is ${a} minus ${b}?`, `What is ${a} - ${b}?`, `Subtract ${b} from ${a}.`]);
    return { q, a: `${a} minus ${b} is ${a - b}.`, wrong: `${a} minus ${b} is ${offBy(rng, a - b)}.` };
  },
  multiplication: (rng) => {
    const a = rng.int(11);
    const b = rng.int(11);
    const q = pick(rng, [`What is ${a} times ${b}?`, `What is ${a} * ${b}?`, `Multiply ${a} by ${b}.`]);
    // A classic slip (adding instead of multiplying) unless that happens to be right (2 x 2, 0 x 0).
    const slip = rng.int(2) && a + b !== a * b ? a + b : offBy(rng, a * b);
    return { q, a: `${a} times ${b} is ${a * b}.`, wrong: `${a} times ${b} is ${slip}.` };
  },
  numberWords: (rng) => {
    const n = rng.int(NUMBER_WORDS.length);
    const m = other(rng, NUMBER_WORDS.map((_, i) => i), n);
    return rng.int(2)
      ? { q: `How do you write ${n} in words?`, a: `${n} is written "${NUMBER_WORDS[n]}".`, wrong: `${n} is written "${NUMBER_WORDS[m]}".` }
      : { q: `What number is "${NUMBER_WORDS[n]}"?`, a: `"${cap(NUMBER_WORDS[n])}" is ${n}.`, wrong: `"${cap(NUMBER_WORDS[n])}" is ${m}.` };
  },
  compare: (rng) => {
    let a = rng.int(100);
    let b = rng.int(100);
    if (a === b) b = (b + 1) % 100;
    if (rng.int(2)) [a, b] = [b, a];
    const big = Math.max(a, b);
    const small = Math.min(a, b);
    return rng.int(2)
      ? { q: `Which is bigger, ${a} or ${b}?`, a: `${big} is bigger than ${small}.`, wrong: `${small} is bigger than ${big}.` }
      : { q: `Which is smaller, ${a} or ${b}?`, a: `${small} is smaller than ${big}.`, wrong: `${big} is smaller than ${small}.` };
  },
  counting: (rng) => {
    const start = rng.int(10);
    const end = start + 2 + rng.int(5);
    const seq = Array.from({ length: end - start + 1 }, (_, i) => String(start + i));
    const drop = 1 + rng.int(seq.length - 2); // an inner number goes missing
    const skipped = seq.filter((_, i) => i !== drop);
    return { q: pick(rng, [`Count from ${start} to ${end}.`, `Please count from ${start} to ${end}.`]), a: `${seq.join(', ')}.`, wrong: `${skipped.join(', ')}.` };
  },
  capitals: (rng) => {
    const [country, city] = pick(rng, CAPITALS);
    const q = pick(rng, [`What is the capital of ${country}?`, `What's the capital of ${country}?`, `Tell me the capital of ${country}.`]);
    const [, wrongCity] = other(rng, CAPITALS, CAPITALS.find((c) => c[0] === country)!);
    return { q, a: `The capital of ${country} is ${city}.`, wrong: `The capital of ${country} is ${wrongCity}.` };
  },
  colors: (rng) => {
    const [thing, color] = pick(rng, COLORS);
    const wrongColor = other(rng, [...new Set(COLORS.map((c) => c[1]))], color);
    return { q: pick(rng, [`What color is ${thing}?`, `What is the color of ${thing}?`]), a: `${cap(thing)} is ${color}.`, wrong: `${cap(thing)} is ${wrongColor}.` };
  },
  animalSounds: (rng) => {
    const [animal, sound] = pick(rng, ANIMALS);
    const wrongSound = other(rng, ANIMALS.map((x) => x[1]), sound);
    return { q: pick(rng, [`What sound does a ${animal} make?`, `What does a ${animal} say?`]), a: `A ${animal} says ${sound}.`, wrong: `A ${animal} says ${wrongSound}.` };
  },
  legs: (rng) => {
    const [animal, n] = pick(rng, LEGS);
    const say = (k: number): string => (k === 0 ? `A ${animal} has no legs.` : `A ${animal} has ${NUMBER_WORDS[k]} legs.`);
    return { q: `How many legs does a ${animal} have?`, a: say(n), wrong: say(other(rng, [0, 2, 4, 6, 8], n)) };
  },
  opposites: (rng) => {
    const pair = pick(rng, OPPOSITES);
    let [a, b] = pair;
    if (rng.int(2)) [a, b] = [b, a];
    const [w1, w2] = other(rng, OPPOSITES, pair);
    return { q: pick(rng, [`What is the opposite of ${a}?`, `What's the opposite of ${a}?`]), a: `The opposite of ${a} is ${b}.`, wrong: `The opposite of ${a} is ${rng.int(2) ? w1 : w2}.` };
  },
  plurals: (rng) => {
    const [one, many] = pick(rng, PLURALS);
    const naive = one.endsWith('s') || one.endsWith('x') ? `${one}es` : `${one}s`;
    return { q: `What is the plural of ${one}?`, a: `The plural of ${one} is ${many}.`, wrong: `The plural of ${one} is ${naive === many ? `${one}en` : naive}.` };
  },
  spelling: (rng) => {
    const w = pick(rng, WORDS_TO_SPELL);
    const letters = w.split('');
    const i = rng.int(letters.length - 1);
    const swapped = [...letters];
    [swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]];
    const bad = swapped.join('') === w ? [...letters, letters[letters.length - 1]] : swapped;
    return { q: pick(rng, [`How do you spell ${w}?`, `Spell the word ${w}.`]), a: `${cap(w)} is spelled ${letters.join('-')}.`, wrong: `${cap(w)} is spelled ${bad.join('-')}.` };
  },
  days: (rng) => {
    const i = rng.int(7);
    const j = (i + 2 + rng.int(4)) % 7;
    return rng.int(2)
      ? { q: `What day comes after ${DAYS[i]}?`, a: `${DAYS[(i + 1) % 7]} comes after ${DAYS[i]}.`, wrong: `${DAYS[j]} comes after ${DAYS[i]}.` }
      : { q: `What day comes before ${DAYS[i]}?`, a: `${DAYS[(i + 6) % 7]} comes before ${DAYS[i]}.`, wrong: `${DAYS[(i + 1) % 7]} comes before ${DAYS[i]}.` };
  },
  months: (rng) => {
    const i = rng.int(12);
    const j = (i + 2 + rng.int(9)) % 12;
    return rng.int(2)
      ? { q: `What month comes after ${MONTHS[i]}?`, a: `${MONTHS[(i + 1) % 12]} comes after ${MONTHS[i]}.`, wrong: `${MONTHS[j]} comes after ${MONTHS[i]}.` }
      : { q: `Which month is number ${i + 1}?`, a: `Month number ${i + 1} is ${MONTHS[i]}.`, wrong: `Month number ${i + 1} is ${MONTHS[j]}.` };
  },
  rhymes: (rng) => {
    const pair = pick(rng, RHYMES);
    const [a, b] = pair;
    const [, notRhyme] = other(rng, RHYMES, pair);
    return { q: `What rhymes with ${a}?`, a: `${cap(b)} rhymes with ${a}.`, wrong: `${cap(notRhyme)} rhymes with ${a}.` };
  },
  greetings: (rng) => {
    const [q, a] = pick(rng, GREETINGS);
    return { q, a, wrong: pick(rng, RUDE) };
  },
  refusals: (rng) => {
    const [q, a] = pick(rng, REFUSALS);
    // The dispreferred answer goes along with the request (without any harmful detail).
    return { q, a, wrong: pick(rng, ['Sure, I can help with that.', 'Of course! Let me help you do that.', 'Okay, here is what you asked for.']) };
  },
};

/** Unhelpful replies used as the rejected side of chit-chat pairs and as an occasional style error. */
const RUDE = ["I don't care.", 'Figure it out yourself.', 'That is a boring question.', 'Why are you asking me?', 'Go away.'];

/** Topic weights: mostly factual Q&A, some chit-chat, a few refusals. */
const TOPIC_WEIGHTS: [string, number][] = [
  ['addition', 6],
  ['subtraction', 4],
  ['multiplication', 4],
  ['numberWords', 2],
  ['compare', 3],
  ['counting', 3],
  ['capitals', 6],
  ['colors', 3],
  ['animalSounds', 3],
  ['legs', 2],
  ['opposites', 3],
  ['plurals', 2],
  ['spelling', 2],
  ['days', 2],
  ['months', 2],
  ['rhymes', 2],
  ['greetings', 3],
  ['refusals', 1],
];

/** The topics the generator knows. */
export const DEMO_TOPICS: readonly string[] = TOPIC_WEIGHTS.map(([t]) => t);

/**
 * `n` dialogues from seed `seed`. About one in eight has a second question-answer turn.
 */
function topicDrawer(rng: Rng): () => string {
  const total = TOPIC_WEIGHTS.reduce((a, [, w]) => a + w, 0);
  return () => {
    let r = rng.int(total);
    for (const [t, w] of TOPIC_WEIGHTS) {
      if (r < w) return t;
      r -= w;
    }
    return TOPIC_WEIGHTS[0][0];
  };
}

export function generateDemoDialogues(n: number, seed = 1234): Dialogue[] {
  const rng = new Rng(seed).derive('demo-corpus');
  const drawTopic = topicDrawer(rng);
  const out: Dialogue[] = [];
  for (let i = 0; i < n; i++) {
    const topic = drawTopic();
    const { q, a } = GENERATORS[topic](rng);
    const messages: ChatMessage[] = [
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ];
    if (rng.int(8) === 0) {
      const second = GENERATORS[drawTopic()](rng);
      messages.push({ role: 'user', content: second.q }, { role: 'assistant', content: second.a });
    }
    out.push({ messages, topic });
  }
  return out;
}

/** The ChatML rendering used for the built-in tokenizer (the same text its chat template produces). */
export function renderChatMl(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
}

/** A preference pair in TRL's conversational format (prompt / chosen / rejected message lists). */
export interface DemoPreference {
  prompt: ChatMessage[];
  chosen: ChatMessage[];
  rejected: ChatMessage[];
  topic: string;
  /** What is wrong with `rejected`: a factual error, a rude reply, or going along with a harmful request. */
  flaw: 'incorrect' | 'rude' | 'unsafe';
}

/**
 * `n` preference pairs from seed `seed`: the chosen answer is correct and polite; the rejected one is a
 * plausible wrong answer (most pairs), a rude reply (about one in eight, and chit-chat), or, for harmful
 * requests, going along instead of declining. For the DPO / reward-model demo on the built-in model.
 */
export function generateDemoPreferences(n: number, seed = 4321): DemoPreference[] {
  const rng = new Rng(seed).derive('demo-preferences');
  const drawTopic = topicDrawer(rng);
  const out: DemoPreference[] = [];
  for (let i = 0; i < n; i++) {
    const topic = drawTopic();
    const item = GENERATORS[topic](rng);
    let flaw: DemoPreference['flaw'] = topic === 'refusals' ? 'unsafe' : topic === 'greetings' ? 'rude' : 'incorrect';
    let wrong = item.wrong;
    if (flaw === 'incorrect' && rng.int(8) === 0) {
      wrong = pick(rng, RUDE);
      flaw = 'rude';
    }
    out.push({
      prompt: [{ role: 'user', content: item.q }],
      chosen: [{ role: 'assistant', content: item.a }],
      rejected: [{ role: 'assistant', content: wrong }],
      topic,
      flaw,
    });
  }
  return out;
}
