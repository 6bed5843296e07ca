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

type Gen = (rng: Rng) => [string, string];

const GENERATORS: Record<string, Gen> = {
  addition: (rng) => {
    const a = rng.int(21);
    const b = rng.int(21);
    const q = pick(rng, [`What is ${a} plus ${b}?`, `What is ${a} + ${b}?`, `Add ${a} and ${b}.`, `Can you add ${a} and ${b}?`]);
    return [q, `${a} plus ${b} is ${a + b}.`];
  },
  subtraction: (rng) => {
    const a = rng.int(21);
    const b = rng.int(a + 1);
    const q = pick(rng, [`What is ${a} minus ${b}?`, `What is ${a} - ${b}?`, `Subtract ${b} from ${a}.`]);
    return [q, `${a} minus ${b} is ${a - b}.`];
  },
  multiplication: (rng) => {
    const a = rng.int(11);
    const b = rng.int(11);
    const q = pick(rng, [`What is ${a} times ${b}?`, `What is ${a} * ${b}?`, `Multiply ${a} by ${b}.`]);
    return [q, `${a} times ${b} is ${a * b}.`];
  },
  numberWords: (rng) => {
    const n = rng.int(NUMBER_WORDS.length);
    return rng.int(2)
      ? [`How do you write ${n} in words?`, `${n} is written "${NUMBER_WORDS[n]}".`]
      : [`What number is "${NUMBER_WORDS[n]}"?`, `"${cap(NUMBER_WORDS[n])}" is ${n}.`];
  },
  compare: (rng) => {
    let a = rng.int(100);
    let b = rng.int(100);
    if (a === b) b = (b + 1) % 100;
    if (rng.int(2)) [a, b] = [b, a];
    const big = Math.max(a, b);
    const small = Math.min(a, b);
    return rng.int(2) ? [`Which is bigger, ${a} or ${b}?`, `${big} is bigger than ${small}.`] : [`Which is smaller, ${a} or ${b}?`, `${small} is smaller than ${big}.`];
  },
  counting: (rng) => {
    const start = rng.int(10);
    const end = start + 2 + rng.int(5);
    const seq = Array.from({ length: end - start + 1 }, (_, i) => String(start + i));
    return [pick(rng, [`Count from ${start} to ${end}.`, `Please count from ${start} to ${end}.`]), `${seq.join(', ')}.`];
  },
  capitals: (rng) => {
    const [country, city] = pick(rng, CAPITALS);
    const q = pick(rng, [`What is the capital of ${country}?`, `What's the capital of ${country}?`, `Tell me the capital of ${country}.`]);
    return [q, `The capital of ${country} is ${city}.`];
  },
  colors: (rng) => {
    const [thing, color] = pick(rng, COLORS);
    return [pick(rng, [`What color is ${thing}?`, `What is the color of ${thing}?`]), `${cap(thing)} is ${color}.`];
  },
  animalSounds: (rng) => {
    const [animal, sound] = pick(rng, ANIMALS);
    return [pick(rng, [`What sound does a ${animal} make?`, `What does a ${animal} say?`]), `A ${animal} says ${sound}.`];
  },
  legs: (rng) => {
    const [animal, n] = pick(rng, LEGS);
    return [`How many legs does a ${animal} have?`, n === 0 ? `A ${animal} has no legs.` : `A ${animal} has ${NUMBER_WORDS[n]} legs.`];
  },
  opposites: (rng) => {
    let [a, b] = pick(rng, OPPOSITES);
    if (rng.int(2)) [a, b] = [b, a];
    return [pick(rng, [`What is the opposite of ${a}?`, `What's the opposite of ${a}?`]), `The opposite of ${a} is ${b}.`];
  },
  plurals: (rng) => {
    const [one, many] = pick(rng, PLURALS);
    return [`What is the plural of ${one}?`, `The plural of ${one} is ${many}.`];
  },
  spelling: (rng) => {
    const w = pick(rng, WORDS_TO_SPELL);
    return [pick(rng, [`How do you spell ${w}?`, `Spell the word ${w}.`]), `${cap(w)} is spelled ${w.split('').join('-')}.`];
  },
  days: (rng) => {
    const i = rng.int(7);
    return rng.int(2)
      ? [`What day comes after ${DAYS[i]}?`, `${DAYS[(i + 1) % 7]} comes after ${DAYS[i]}.`]
      : [`What day comes before ${DAYS[i]}?`, `${DAYS[(i + 6) % 7]} comes before ${DAYS[i]}.`];
  },
  months: (rng) => {
    const i = rng.int(12);
    return rng.int(2)
      ? [`What month comes after ${MONTHS[i]}?`, `${MONTHS[(i + 1) % 12]} comes after ${MONTHS[i]}.`]
      : [`Which month is number ${i + 1}?`, `Month number ${i + 1} is ${MONTHS[i]}.`];
  },
  rhymes: (rng) => {
    const [a, b] = pick(rng, RHYMES);
    return [`What rhymes with ${a}?`, `${cap(b)} rhymes with ${a}.`];
  },
  greetings: (rng) => pick(rng, GREETINGS),
  refusals: (rng) => pick(rng, REFUSALS),
};

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
export function generateDemoDialogues(n: number, seed = 1234): Dialogue[] {
  const rng = new Rng(seed).derive('demo-corpus');
  const total = TOPIC_WEIGHTS.reduce((a, [, w]) => a + w, 0);
  const drawTopic = (): string => {
    let r = rng.int(total);
    for (const [t, w] of TOPIC_WEIGHTS) {
      if (r < w) return t;
      r -= w;
    }
    return TOPIC_WEIGHTS[0][0];
  };
  const out: Dialogue[] = [];
  for (let i = 0; i < n; i++) {
    const topic = drawTopic();
    const [q, a] = GENERATORS[topic](rng);
    const messages: ChatMessage[] = [
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ];
    if (rng.int(8) === 0) {
      const [q2, a2] = GENERATORS[drawTopic()](rng);
      messages.push({ role: 'user', content: q2 }, { role: 'assistant', content: a2 });
    }
    out.push({ messages, topic });
  }
  return out;
}

/** The ChatML rendering used for the built-in tokenizer (the same text its chat template produces). */
export function renderChatMl(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
}
