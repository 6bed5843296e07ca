/**
 * Method cards: every training method the product offers, described for the launch form. Pure data + types
 * (the extension host reads this; trainers read the same defaults).
 *
 * Each card gives the method's place on the eight axes of the survey's comparison table
 * (ALIGNMENT_REFERENCE.md section 2), a summary, the paper, the dataset kind it trains on, and its
 * hyperparameters with TRL's defaults (TRL's field names are the keys, so a run spec maps 1:1 onto a TRL config).
 */
import type { DatasetKind } from './datasets/examples';

export type MethodId = 'sft' | 'reward' | 'reward-regression' | 'dpo' | 'kto' | 'orpo' | 'simpo' | 'cpo' | 'ppo' | 'rloo' | 'grpo' | 'online-dpo' | 'human-dpo';

export const METHOD_IDS: readonly MethodId[] = ['sft', 'reward', 'reward-regression', 'dpo', 'kto', 'orpo', 'simpo', 'cpo', 'ppo', 'rloo', 'grpo', 'online-dpo', 'human-dpo'];

/** One axis value plus a sentence saying why it applies to this method. */
export interface AxisValue<V extends string> {
  readonly value: V;
  readonly note: string;
}

/**
 * The survey's eight axes. `none` is used where an axis does not apply (SFT has no reward; a reward-model
 * run trains the reward itself, so the policy axes describe that run, not a policy).
 */
export interface MethodAxes {
  /** RM1: is the reward an explicit model or implicit in the policy? */
  readonly rm1: AxisValue<'explicit' | 'implicit' | 'none'>;
  /** RM2: does the signal score one response (pointwise) or compare responses (preference)? */
  readonly rm2: AxisValue<'pointwise' | 'preference' | 'none'>;
  /** RM3: one reward per response or per token. */
  readonly rm3: AxisValue<'response' | 'token' | 'none'>;
  /** RM4: learns from positive examples only, or also from negative ones. */
  readonly rm4: AxisValue<'positive' | 'positive-and-negative'>;
  /** F: where the feedback comes from in the method's paper; the product accepts human or AI labels for all. */
  readonly f: AxisValue<'human' | 'ai' | 'human-or-ai'>;
  /** RL1: needs a frozen reference model or not. */
  readonly rl1: AxisValue<'reference' | 'reference-free'>;
  /** RL2: trains on its own fresh samples (on-policy) or on a fixed set (off-policy). */
  readonly rl2: AxisValue<'on-policy' | 'off-policy'>;
  /** O: collects new feedback while training (online-iterative) or uses a fixed dataset (offline). */
  readonly o: AxisValue<'online' | 'offline'>;
}

export const AXIS_LABELS: Readonly<Record<keyof MethodAxes, string>> = {
  rm1: 'RM1 explicit / implicit reward',
  rm2: 'RM2 pointwise / preference',
  rm3: 'RM3 response / token level',
  rm4: 'RM4 positive / negative signal',
  f: 'F human / AI feedback',
  rl1: 'RL1 reference / reference-free',
  rl2: 'RL2 on / off-policy',
  o: 'O online / offline',
};

export interface Citation {
  readonly authors: string;
  readonly title: string;
  readonly year: number;
  /** arXiv id, e.g. `2305.18290`. */
  readonly arxiv?: string;
  readonly venue?: string;
  readonly url?: string;
}

interface ParamBase {
  readonly name: string;
  /** One or two sentences for the launch form. */
  readonly help: string;
}
export interface NumberParam extends ParamBase {
  readonly kind: 'number';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
  /** When true, `min` itself is not allowed (e.g. beta > 0). */
  readonly minExclusive?: boolean;
  readonly maxExclusive?: boolean;
}
export interface IntegerParam extends ParamBase {
  readonly kind: 'integer';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}
export interface BooleanParam extends ParamBase {
  readonly kind: 'boolean';
  readonly default: boolean;
}
export interface ChoiceParam extends ParamBase {
  readonly kind: 'choice';
  readonly default: string;
  readonly options: readonly { readonly value: string; readonly help: string }[];
}
export type Hyperparameter = NumberParam | IntegerParam | BooleanParam | ChoiceParam;
export type HyperparameterValue = number | boolean | string;

/** Training defaults that differ by method (TRL's config defaults). */
export interface TrainingDefaults {
  readonly learningRate: number;
  /** Longest prompt + completion in tokens. */
  readonly maxLength: number;
  /** Longest prompt in tokens (methods with prompts); longer prompts keep their end. */
  readonly maxPromptLength?: number;
}

export interface LossTypeCard {
  readonly id: string;
  readonly title: string;
  readonly summary: string;
  readonly citation: Citation;
}

export interface MethodCard {
  readonly id: MethodId;
  readonly title: string;
  readonly family: 'supervised' | 'reward-model' | 'direct-preference' | 'online-rl';
  readonly summary: string;
  readonly citation: Citation;
  readonly axes: MethodAxes;
  /** Dataset kinds it trains on (first = native); see `datasetNote` for conversions. */
  readonly datasetKinds: readonly DatasetKind[];
  readonly datasetNote: string;
  /** Needs a trained reward model (or judge) at training time. */
  readonly needsRewardModel: boolean;
  /** An online method whose reward functions may be left out (a run with a person: they are its AI judge). */
  readonly rewardsOptional?: boolean;
  /** Loads a frozen reference copy of the policy. */
  readonly needsReference: boolean;
  /** A session can train it today. The launch form and the CLI offer only trainable methods and refuse the
   *  others before anything is written. */
  readonly trainable: boolean;
  readonly defaults: TrainingDefaults;
  readonly hyperparameters: readonly Hyperparameter[];
  /** Loss variants (DPO). */
  readonly lossTypes?: readonly LossTypeCard[];
  /** The metrics the run logs (TRL's names, ALIGNMENT_REFERENCE.md section 5), besides the common ones. */
  readonly metrics: readonly string[];
}

/** Metrics every method logs. */
export const COMMON_METRICS: readonly string[] = ['loss', 'grad_norm', 'learning_rate', 'tokens_per_second', 'step_time'];

// ---------------------------------------------------------------------------------------------------------
// Citations

const C = {
  instructGpt: { authors: 'Ouyang et al.', title: 'Training language models to follow instructions with human feedback', year: 2022, arxiv: '2203.02155', venue: 'NeurIPS 2022' },
  bradleyTerry: { authors: 'Bradley, R. A. and Terry, M. E.', title: 'Rank Analysis of Incomplete Block Designs: I. The Method of Paired Comparisons', year: 1952, venue: 'Biometrika 39(3/4)' },
  helpSteer: { authors: 'Wang et al.', title: 'HelpSteer: Multi-attribute Helpfulness Dataset for SteerLM', year: 2023, arxiv: '2311.09528' },
  dpo: { authors: 'Rafailov et al.', title: 'Direct Preference Optimization: Your Language Model is Secretly a Reward Model', year: 2023, arxiv: '2305.18290', venue: 'NeurIPS 2023' },
  ipo: { authors: 'Azar et al.', title: 'A General Theoretical Paradigm to Understand Learning from Human Preferences', year: 2023, arxiv: '2310.12036', venue: 'AISTATS 2024' },
  slic: { authors: 'Zhao et al.', title: 'SLiC-HF: Sequence Likelihood Calibration with Human Feedback', year: 2023, arxiv: '2305.10425' },
  cdpo: { authors: 'Mitchell, E.', title: 'A note on DPO with noisy preferences & relationship to IPO', year: 2023, url: 'https://ericmitchell.ai/cdpo.pdf' },
  robust: { authors: 'Chowdhury, Kini and Natarajan', title: 'Provably Robust DPO: Aligning Language Models with Noisy Feedback', year: 2024, arxiv: '2403.00409', venue: 'ICML 2024' },
  simpo: { authors: 'Meng, Xia and Chen', title: 'SimPO: Simple Preference Optimization with a Reference-Free Reward', year: 2024, arxiv: '2405.14734', venue: 'NeurIPS 2024' },
  kto: { authors: 'Ethayarajh et al.', title: 'KTO: Model Alignment as Prospect Theoretic Optimization', year: 2024, arxiv: '2402.01306', venue: 'ICML 2024' },
  orpo: { authors: 'Hong, Lee and Thorne', title: 'ORPO: Monolithic Preference Optimization without Reference Model', year: 2024, arxiv: '2403.07691', venue: 'EMNLP 2024' },
  cpo: { authors: 'Xu et al.', title: 'Contrastive Preference Optimization: Pushing the Boundaries of LLM Performance in Machine Translation', year: 2024, arxiv: '2401.08417', venue: 'ICML 2024' },
  ppo: { authors: 'Schulman et al.', title: 'Proximal Policy Optimization Algorithms', year: 2017, arxiv: '1707.06347' },
  rloo: { authors: 'Ahmadian et al.', title: "Back to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs", year: 2024, arxiv: '2402.14740', venue: 'ACL 2024' },
  grpo: { authors: 'Shao et al.', title: 'DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models', year: 2024, arxiv: '2402.03300' },
  drGrpo: { authors: 'Liu et al.', title: 'Understanding R1-Zero-Like Training: A Critical Perspective', year: 2025, arxiv: '2503.20783' },
  dapo: { authors: 'Yu et al.', title: 'DAPO: An Open-Source LLM Reinforcement Learning System at Scale', year: 2025, arxiv: '2503.14476' },
  gspo: { authors: 'Zheng et al.', title: 'Group Sequence Policy Optimization', year: 2025, arxiv: '2507.18071' },
  onlineDpo: { authors: 'Guo et al.', title: 'Direct Language Model Alignment from Online AI Feedback', year: 2024, arxiv: '2402.04792' },
} satisfies Record<string, Citation>;

// ---------------------------------------------------------------------------------------------------------
// Shared parameters

const beta = (help: string, def = 0.1): NumberParam => ({ kind: 'number', name: 'beta', default: def, min: 0, minExclusive: true, help });
const temperature = (def: number): NumberParam => ({ kind: 'number', name: 'temperature', default: def, min: 0, minExclusive: true, help: 'Sampling temperature for the completions the policy generates during training.' });
const maxCompletion = (def: number, name = 'max_completion_length'): IntegerParam => ({ kind: 'integer', name, default: def, min: 1, help: 'Most tokens generated per completion during training.' });
/** top_k and top_p of the sampler every online method uses (0 and 1 turn them off; TRL: None). */
const topKP = (): Hyperparameter[] => [
  { kind: 'integer', name: 'top_k', default: 0, min: 0, help: 'Sample only among the k most likely tokens (0 = off).' },
  { kind: 'number', name: 'top_p', default: 1, min: 0, minExclusive: true, max: 1, help: 'Nucleus sampling: the smallest set of tokens with this much probability (1 = off).' },
];
const missingEos: NumberParam = {
  kind: 'number',
  name: 'missing_eos_penalty',
  default: 0,
  min: 0,
  help: 'Subtracted from the score of a completion that ends without an end-of-sequence token (0 = off, TRL: None). Discourages rambling until the length limit.',
};

// ---------------------------------------------------------------------------------------------------------
// Cards

/**
 * DPO's loss variants: the one list of them. The launch form's options, the run-spec check and the trainer's
 * `DpoLossType` all come from it.
 */
const DPO_LOSS_TYPES = [
  { id: 'sigmoid', title: 'DPO (sigmoid)', summary: '-log sigmoid(beta h): the Bradley-Terry likelihood of the implicit reward margin h = rho(y+) - rho(y-).', citation: C.dpo },
  { id: 'ipo', title: 'IPO', summary: '(h - 1/(2 beta))^2 on mean-token log-ratios: regresses the margin to a fixed target, so it cannot overfit deterministic preferences.', citation: C.ipo },
  { id: 'hinge', title: 'Hinge (SLiC)', summary: 'max(0, 1 - beta h): stops pushing once the margin clears 1/beta.', citation: C.slic },
  { id: 'cdpo', title: 'Conservative DPO (label smoothing)', summary: '-(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h): assumes a fraction eps of labels are flipped; needs label_smoothing > 0.', citation: C.cdpo },
  { id: 'robust', title: 'Robust DPO', summary: 'An unbiased estimate of the clean-label DPO loss under label-flip rate eps in [0, 0.5); needs label_smoothing.', citation: C.robust },
  { id: 'sigmoid_norm', title: 'Length-normalized DPO', summary: 'The DPO sigmoid loss on mean-token log-ratios (length normalization as argued in SimPO), so longer completions are not favoured.', citation: C.simpo },
] as const satisfies readonly LossTypeCard[];

/** A DPO loss type (TRL's `loss_type`): the ids of the DPO card's loss types. */
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number]['id'];

/** The DPO card's loss type ids, in the card's order. */
export const DPO_LOSS_TYPE_IDS: readonly DpoLossType[] = DPO_LOSS_TYPES.map((l) => l.id);

export function isDpoLossType(x: string): x is DpoLossType {
  return (DPO_LOSS_TYPE_IDS as readonly string[]).includes(x);
}

/** The DPO loss types online DPO offers (TRL's OnlineDPOTrainer: `sigmoid` and `ipo`). */
export const ONLINE_DPO_LOSS_TYPE_IDS = ['sigmoid', 'ipo'] as const satisfies readonly DpoLossType[];

/** The loss_type choice of the online DPO methods (the DPO losses that fit one fresh pair per prompt). */
function onlineDpoLossType(help: string): Hyperparameter {
  const options = DPO_LOSS_TYPES.filter((l) => (ONLINE_DPO_LOSS_TYPE_IDS as readonly string[]).includes(l.id)).map((l) => ({ value: l.id, help: l.summary }));
  return { kind: 'choice', name: 'loss_type', default: 'sigmoid', options, help };
}

/**
 * GRPO's loss aggregations (TRL's `loss_type`): the one list of them. The launch form's options, the run-spec
 * check and the trainer's `GrpoLossType` (src/training/lossesRl.ts) all come from it.
 */
const GRPO_LOSS_TYPES = [
  { id: 'grpo', title: 'GRPO (per-sequence mean)', summary: 'Mean over each completion\'s tokens, then over completions (eq. 3): a token of a short completion weighs more (length bias).', citation: C.grpo },
  { id: 'dr_grpo', title: 'Dr. GRPO', summary: 'Sum over all tokens / (completions x max_completion_length): a constant divisor, no length bias.', citation: C.drGrpo },
  { id: 'dapo', title: 'DAPO (token-level mean)', summary: 'Sum over all tokens / active tokens in the batch (eq. 8): every token weighs the same. TRL\'s default.', citation: C.dapo },
] as const satisfies readonly LossTypeCard[];

/** A GRPO loss aggregation: the ids of the GRPO card's loss types. */
export type GrpoLossType = (typeof GRPO_LOSS_TYPES)[number]['id'];

export const GRPO_LOSS_TYPE_IDS: readonly GrpoLossType[] = GRPO_LOSS_TYPES.map((l) => l.id);

/** GRPO's `scale_rewards`: what the centred rewards are divided by. */
const SCALE_REWARDS_OPTIONS = [
  { value: 'group', help: 'The std of the rewards within each group (GRPO, TRL default).' },
  { value: 'batch', help: 'The std of all rewards in the batch (more robust with small groups).' },
  { value: 'none', help: 'No division (Dr. GRPO, Liu et al. 2025): avoids favouring too easy or too hard prompts.' },
] as const;
export type ScaleRewards = (typeof SCALE_REWARDS_OPTIONS)[number]['value'];
export const SCALE_REWARDS: readonly ScaleRewards[] = SCALE_REWARDS_OPTIONS.map((o) => o.value);

/** GRPO's `importance_sampling_level`. */
const IMPORTANCE_SAMPLING_OPTIONS = [
  { value: 'token', help: 'One ratio per token (GRPO).' },
  { value: 'sequence', help: 'One ratio per completion from its mean token log-ratio (GSPO, Zheng et al. 2025, eq. 7).' },
] as const;
export type ImportanceSamplingLevel = (typeof IMPORTANCE_SAMPLING_OPTIONS)[number]['value'];
export const IMPORTANCE_SAMPLING_LEVELS: readonly ImportanceSamplingLevel[] = IMPORTANCE_SAMPLING_OPTIONS.map((o) => o.value);

/** The sampling and update hyperparameters GRPO and RLOO share (TRL's GRPOConfig / RLOOConfig names and defaults). */
function onlineRlParams(): Hyperparameter[] {
  return [
    { kind: 'number', name: 'epsilon', default: 0.2, min: 0, minExclusive: true, max: 1, maxExclusive: true, help: 'Lower ratio clip: the ratio is clipped to [1 - epsilon, 1 + epsilon_high].' },
    { kind: 'number', name: 'epsilon_high', default: 0, min: 0, help: "Upper ratio clip (DAPO's clip-higher; 0.28 suggested). 0 = same as epsilon (TRL: None)." },
    { kind: 'integer', name: 'num_iterations', default: 1, min: 1, help: 'mu: optimizer steps on each batch of samples. From the second one the ratio differs from 1 and clipping acts.' },
    temperature(1),
    ...topKP(),
    maxCompletion(256),
    { kind: 'boolean', name: 'mask_truncated_completions', default: false, help: 'Completions cut at max_completion_length take no part in the loss (DAPO).' },
  ];
}

/** TRL's GRPO / RLOO metrics; `rewards/<function>/mean` and `/std` are logged per reward function besides. */
const ONLINE_RL_METRICS = [
  'reward',
  'reward_std',
  'frac_reward_zero_std',
  'kl',
  'entropy',
  'clip_ratio/region_mean',
  'clip_ratio/low_mean',
  'clip_ratio/high_mean',
  'completions/mean_length',
  'completions/min_length',
  'completions/max_length',
  'completions/clipped_ratio',
  'completions/mean_terminated_length',
  'num_tokens',
];

export const METHOD_CARDS: readonly MethodCard[] = [
  {
    id: 'sft',
    trainable: true,
    title: 'Supervised fine-tuning (SFT)',
    family: 'supervised',
    summary:
      'Maximizes the likelihood of demonstration completions (cross-entropy on completion or assistant tokens). The usual first step: it gives the policy the format and skills that preference methods then refine, and it is the reference model for DPO-style training.',
    citation: C.instructGpt,
    axes: {
      rm1: { value: 'none', note: 'No reward: imitation of demonstrations.' },
      rm2: { value: 'none', note: 'No reward.' },
      rm3: { value: 'none', note: 'Token-level likelihood, not a reward.' },
      rm4: { value: 'positive', note: 'Learns from good examples only.' },
      f: { value: 'human', note: 'Human-written demonstrations (or AI-written, e.g. distillation).' },
      rl1: { value: 'reference-free', note: 'No reference model.' },
      rl2: { value: 'off-policy', note: 'Trains on a fixed dataset.' },
      o: { value: 'offline', note: 'Fixed dataset.' },
    },
    datasetKinds: ['sft', 'preference'],
    datasetNote: 'prompt/completion or whole conversations (messages); preference pairs train on their chosen completions.',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 2e-5, maxLength: 1024 },
    hyperparameters: [
      { kind: 'boolean', name: 'completion_only_loss', default: true, help: 'Compute the loss on completion tokens only (prompt tokens are context). TRL: on for prompt-completion data.' },
      { kind: 'boolean', name: 'assistant_only_loss', default: false, help: 'For conversations: compute the loss only on assistant turns.' },
      { kind: 'boolean', name: 'packing', default: false, help: 'Pack several short examples into one sequence of max_length (best-fit decreasing); attention does not cross example boundaries and positions restart per example. batchSize then counts packed sequences.' },
    ],
    metrics: ['entropy', 'num_tokens', 'mean_token_accuracy'],
  },
  {
    id: 'reward',
    trainable: true,
    title: 'Reward model (Bradley-Terry)',
    family: 'reward-model',
    summary:
      'Trains a scalar reward head so that sigmoid(r(x, y+) - r(x, y-)) is the probability that y+ is preferred: phase 1 of RLHF. Optional per-pair margins (Llama 2) and a reward-centering penalty keep rewards near zero mean.',
    citation: C.bradleyTerry,
    axes: {
      rm1: { value: 'explicit', note: 'Trains an explicit reward model.' },
      rm2: { value: 'preference', note: 'Learns from pairwise preferences (Bradley-Terry).' },
      rm3: { value: 'response', note: 'One score per response (at its last token).' },
      rm4: { value: 'positive-and-negative', note: 'Both the chosen and the rejected response shape the reward.' },
      f: { value: 'human-or-ai', note: 'Human comparisons (InstructGPT) or AI-judged pairs (RLAIF).' },
      rl1: { value: 'reference-free', note: 'No reference model.' },
      rl2: { value: 'off-policy', note: 'Fixed labeled pairs.' },
      o: { value: 'offline', note: 'Fixed dataset; retrain on new labels for iterative RLHF.' },
    },
    datasetKinds: ['preference'],
    datasetNote: 'Preference pairs; a `margin` field per pair is used when use_margin is on.',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 1e-4, maxLength: 1024 },
    hyperparameters: [
      {
        kind: 'number',
        name: 'center_rewards_coefficient',
        default: 0,
        min: 0,
        help: 'Weight c of c * mean((r+ + r-)^2), which pulls rewards toward zero mean (Eisenstein et al. 2023, eq. 2). 0 = off (TRL: None); 0.01 is the suggested value.',
      },
      { kind: 'boolean', name: 'use_margin', default: false, help: "Subtract each pair's `margin` inside the sigmoid: -log sigmoid(r+ - r- - m) (Llama 2). Pairs without a margin use 0." },
    ],
    metrics: ['accuracy', 'margin', 'min_reward', 'mean_reward', 'max_reward', 'num_tokens'],
  },
  {
    id: 'reward-regression',
    trainable: true,
    title: 'Reward model (pointwise regression)',
    family: 'reward-model',
    summary:
      'Trains a scalar reward head to predict a rating per response with a mean-squared error, as SteerLM/HelpSteer do for their attribute scores. Use it when labels are ratings or binary critiques rather than comparisons.',
    citation: C.helpSteer,
    axes: {
      rm1: { value: 'explicit', note: 'Trains an explicit reward model.' },
      rm2: { value: 'pointwise', note: 'Regresses an absolute rating per response.' },
      rm3: { value: 'response', note: 'One score per response.' },
      rm4: { value: 'positive-and-negative', note: 'Low ratings teach as much as high ones.' },
      f: { value: 'human-or-ai', note: 'Human ratings (HelpSteer) or AI ratings (UltraFeedback).' },
      rl1: { value: 'reference-free', note: 'No reference model.' },
      rl2: { value: 'off-policy', note: 'Fixed labeled data.' },
      o: { value: 'offline', note: 'Fixed dataset.' },
    },
    datasetKinds: ['unpaired', 'preference'],
    datasetNote: 'A rating per completion: KTO-style labels (desirable = 1, undesirable = 0), or pairs that carry scores (UltraFeedback `scores`).',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 1e-4, maxLength: 1024 },
    hyperparameters: [
      { kind: 'boolean', name: 'normalize_ratings', default: true, help: 'Standardize ratings to zero mean and unit variance over the training set before regressing, so the reward scale does not depend on the rating scale.' },
    ],
    metrics: ['mae', 'min_reward', 'mean_reward', 'max_reward'],
  },
  {
    id: 'dpo',
    trainable: true,
    title: 'Direct Preference Optimization (DPO)',
    family: 'direct-preference',
    summary:
      'Optimizes the RLHF objective in closed form: the policy itself is the reward model, r = beta log(pi/pi_ref), trained with a Bradley-Terry loss on preference pairs. No reward model, no sampling; a frozen reference model keeps the policy close. Choose a loss type for its variants (IPO, hinge, conservative, robust, length-normalized).',
    citation: C.dpo,
    axes: {
      rm1: { value: 'implicit', note: 'The reward is beta * log(pi_theta / pi_ref).' },
      rm2: { value: 'preference', note: 'Pairwise preferences (Bradley-Terry).' },
      rm3: { value: 'response', note: 'One implicit reward per response (a sum over its tokens).' },
      rm4: { value: 'positive-and-negative', note: 'Raises chosen and lowers rejected likelihood.' },
      f: { value: 'human', note: 'Human preference pairs in the paper; AI-judged pairs work the same.' },
      rl1: { value: 'reference', note: 'Needs the frozen reference (usually the SFT model).' },
      rl2: { value: 'off-policy', note: 'Pairs need not come from the policy.' },
      o: { value: 'offline', note: 'Fixed preference set (see online DPO for the iterative version).' },
    },
    datasetKinds: ['preference'],
    datasetNote: 'Preference pairs (prompt, chosen, rejected).',
    needsRewardModel: false,
    needsReference: true,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      beta('Strength of the implicit KL leash: higher beta keeps the policy closer to the reference. For IPO it is the regularization tau (target margin 1/(2 beta)).'),
      {
        kind: 'choice',
        name: 'loss_type',
        default: 'sigmoid',
        options: DPO_LOSS_TYPES.map((l) => ({ value: l.id, help: l.summary })),
        help: 'Which loss of the DPO family to train with.',
      },
      {
        kind: 'number',
        name: 'label_smoothing',
        default: 0,
        min: 0,
        max: 0.5,
        maxExclusive: true,
        help: 'Assumed label-flip rate eps for the cdpo and robust loss types (ignored by the others). Robust DPO needs eps < 0.5.',
      },
      { kind: 'boolean', name: 'precompute_ref_log_probs', default: false, help: 'Compute the reference log-probs once before training, so the reference model need not stay in memory (saves memory, costs one pass).' },
    ],
    lossTypes: DPO_LOSS_TYPES,
    metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected'],
  },
  {
    id: 'kto',
    trainable: true,
    title: 'Kahneman-Tversky Optimization (KTO)',
    family: 'direct-preference',
    summary:
      'Learns from single completions labeled desirable or undesirable, no pairs needed: a prospect-theory value of the implicit reward relative to a reference point z0 (the policy-reference KL estimated on mismatched prompt/completion pairs). Weights balance unequal numbers of desirable and undesirable examples.',
    citation: C.kto,
    axes: {
      rm1: { value: 'implicit', note: 'The reward is beta * log(pi_theta / pi_ref).' },
      rm2: { value: 'pointwise', note: 'A binary desirable/undesirable label per completion.' },
      rm3: { value: 'response', note: 'One implicit reward per response.' },
      rm4: { value: 'positive-and-negative', note: 'Undesirable examples are a negative signal of their own.' },
      f: { value: 'human-or-ai', note: 'Thumbs up/down from people, or a judge.' },
      rl1: { value: 'reference', note: 'Needs the frozen reference model.' },
      rl2: { value: 'off-policy', note: 'Fixed labeled completions.' },
      o: { value: 'offline', note: 'Fixed dataset.' },
    },
    datasetKinds: ['unpaired', 'preference'],
    datasetNote: 'prompt/completion/label; preference pairs are unpaired (chosen = desirable, rejected = undesirable). Batch size must be > 1 (z0 is estimated within the batch).',
    needsRewardModel: false,
    needsReference: true,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      beta('Strength of the implicit KL leash: higher beta keeps the policy closer to the reference.'),
      { kind: 'number', name: 'desirable_weight', default: 1, min: 0, minExclusive: true, help: 'lambda_D: weight of desirable examples. With unequal counts, keep lambda_D * n_D / (lambda_U * n_U) in [1, 4/3] (KTO paper).' },
      { kind: 'number', name: 'undesirable_weight', default: 1, min: 0, minExclusive: true, help: 'lambda_U: weight of undesirable examples.' },
      { kind: 'boolean', name: 'precompute_ref_log_probs', default: false, help: 'Compute the reference log-probs (of each completion and of its mismatched KL pair) once before training, so the reference model need not stay in memory.' },
    ],
    metrics: ['kl', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected'],
  },
  {
    id: 'orpo',
    trainable: true,
    title: 'Odds Ratio Preference Optimization (ORPO)',
    family: 'direct-preference',
    summary:
      'SFT and preference alignment in one step with no reference model: the NLL of the chosen completion plus lambda times a log-sigmoid of the log odds ratio between chosen and rejected (odds from mean-token probabilities). Can start from a base model.',
    citation: C.orpo,
    axes: {
      rm1: { value: 'implicit', note: 'The odds ratio of the policy acts as the reward.' },
      rm2: { value: 'preference', note: 'Pairwise preferences.' },
      rm3: { value: 'response', note: 'Odds from mean-token log-probs per response.' },
      rm4: { value: 'positive-and-negative', note: 'NLL on chosen plus a penalty on rejected odds.' },
      f: { value: 'human-or-ai', note: 'Trained on UltraFeedback (AI) and HH-RLHF (human) pairs in the paper.' },
      rl1: { value: 'reference-free', note: 'No reference model.' },
      rl2: { value: 'off-policy', note: 'Fixed pairs.' },
      o: { value: 'offline', note: 'Fixed dataset.' },
    },
    datasetKinds: ['preference'],
    datasetNote: 'Preference pairs.',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [beta('lambda: weight of the odds-ratio term relative to the NLL (TRL calls it beta; the paper uses 0.1-0.25).')],
    metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'nll_loss', 'log_odds_ratio', 'log_odds_chosen'],
  },
  {
    id: 'simpo',
    trainable: true,
    title: 'Simple Preference Optimization (SimPO)',
    family: 'direct-preference',
    summary:
      'A reference-free DPO: the implicit reward is the mean-token log-probability (length-normalized, matching how generation is scored), and the chosen reward must beat the rejected one by a margin gamma. Less memory than DPO (no reference model).',
    citation: C.simpo,
    axes: {
      rm1: { value: 'implicit', note: 'The reward is beta * mean-token log pi.' },
      rm2: { value: 'preference', note: 'Pairwise preferences.' },
      rm3: { value: 'response', note: 'One length-normalized reward per response.' },
      rm4: { value: 'positive-and-negative', note: 'Raises chosen and lowers rejected likelihood.' },
      f: { value: 'ai', note: 'Trained on UltraFeedback (GPT-4 ratings) and on-policy pairs judged by a reward model in the paper.' },
      rl1: { value: 'reference-free', note: 'No reference model.' },
      rl2: { value: 'off-policy', note: 'Fixed pairs.' },
      o: { value: 'offline', note: 'Fixed dataset.' },
    },
    datasetKinds: ['preference'],
    datasetNote: 'Preference pairs.',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      beta('Reward scale. TRL default 0.1; the paper uses about 2 to 2.5 (with gamma about 0.5 to 1.5 times beta).'),
      { kind: 'number', name: 'simpo_gamma', default: 0.5, min: 0, help: "gamma: the target reward margin, as an absolute value inside the sigmoid: -log sigmoid(beta u - gamma) (TRL's simpo_gamma; the paper's configs give gamma/beta)." },
      { kind: 'number', name: 'cpo_alpha', default: 0, min: 0, help: "Weight of an added NLL term on chosen completions (CPO-SimPO). 0 = pure SimPO. TRL's CPO trainer defaults this to 1 for every loss type." },
    ],
    metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'nll_loss'],
  },
  {
    id: 'cpo',
    trainable: true,
    title: 'Contrastive Preference Optimization (CPO)',
    family: 'direct-preference',
    summary:
      'A reference-free DPO approximation: the sigmoid preference loss on summed log-probabilities with no reference model, plus a behaviour-cloning NLL term on chosen completions (weight alpha) that keeps the policy on the preferred data.',
    citation: C.cpo,
    axes: {
      rm1: { value: 'implicit', note: 'The reward is beta * log pi (no reference).' },
      rm2: { value: 'preference', note: 'Pairwise preferences.' },
      rm3: { value: 'response', note: 'One summed log-prob reward per response.' },
      rm4: { value: 'positive-and-negative', note: 'Raises chosen and lowers rejected likelihood.' },
      f: { value: 'ai', note: 'Pairs ranked by reference-free metrics (KIWI/XCOMET) in the paper.' },
      rl1: { value: 'reference-free', note: 'No reference model (the NLL term replaces it).' },
      rl2: { value: 'off-policy', note: 'Fixed pairs.' },
      o: { value: 'offline', note: 'Fixed dataset.' },
    },
    datasetKinds: ['preference'],
    datasetNote: 'Preference pairs.',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      beta('Scale of the preference term.'),
      { kind: 'number', name: 'cpo_alpha', default: 1, min: 0, help: 'alpha: weight of the NLL term on chosen completions (mean over all chosen tokens of the batch).' },
      { kind: 'number', name: 'label_smoothing', default: 0, min: 0, max: 0.5, maxExclusive: true, help: 'Assumed label-flip rate (conservative loss); 0 = off.' },
    ],
    metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'logits/chosen', 'logits/rejected', 'nll_loss'],
  },
  {
    id: 'ppo',
    trainable: true,
    title: 'Proximal Policy Optimization (RLHF)',
    family: 'online-rl',
    summary:
      'Phase 2 of RLHF: the policy samples completions, a reward model scores them, and PPO updates the policy with clipped ratios and a value head (GAE advantages), while a per-token KL penalty to the reference model keeps it from drifting into reward hacking.',
    citation: C.ppo,
    axes: {
      rm1: { value: 'explicit', note: 'A separately trained reward model scores completions.' },
      rm2: { value: 'pointwise', note: 'The RM gives each completion a scalar score.' },
      rm3: { value: 'token', note: 'Per-token rewards: KL penalty at every token plus the RM score at the last.' },
      rm4: { value: 'positive-and-negative', note: 'Scores and advantages can be positive or negative.' },
      f: { value: 'human', note: 'The RM is trained on human comparisons (InstructGPT).' },
      rl1: { value: 'reference', note: 'KL penalty to the frozen reference policy.' },
      rl2: { value: 'on-policy', note: 'Learns from its own fresh samples.' },
      o: { value: 'online', note: 'New samples (and scores) every iteration.' },
    },
    datasetKinds: ['prompt', 'preference', 'sft'],
    datasetNote: 'Prompts only (any dataset contributes its prompts; prompt-only rows keep their other columns, e.g. a reference `answer` for a verifier); scored by the run\'s reward functions, typically a trained reward model. One completion per prompt.',
    needsRewardModel: false,
    needsReference: true,
    defaults: { learningRate: 3e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      { kind: 'number', name: 'kl_coef', default: 0.05, min: 0, help: 'Weight of the per-token KL penalty to the reference policy.' },
      {
        kind: 'choice',
        name: 'kl_estimator',
        default: 'k1',
        options: [
          { value: 'k1', help: 'log pi - log pi_ref: unbiased, can be negative per token.' },
          { value: 'k3', help: '(e^l - 1) - l with l = log pi_ref - log pi: unbiased and always >= 0, lower variance.' },
        ],
        help: 'KL estimator for the penalty (Schulman 2020, "Approximating KL divergence").',
      },
      { kind: 'boolean', name: 'adap_kl_ctrl', default: false, help: 'Adapt kl_coef toward the target KL after each rollout (Ziegler et al. 2019; TRL\'s older PPOTrainer). Off = kl_coef fixed, as current TRL.' },
      { kind: 'number', name: 'target', default: 6, min: 0, minExclusive: true, help: 'Target KL per completion (sum over its tokens) of the adaptive KL controller.' },
      { kind: 'integer', name: 'horizon', default: 10000, min: 1, help: 'Horizon of the adaptive KL controller in episodes: kl_coef moves by at most 20% x episodes / horizon per rollout.' },
      { kind: 'number', name: 'cliprange', default: 0.2, min: 0, minExclusive: true, help: 'Policy ratio clip epsilon.' },
      { kind: 'number', name: 'cliprange_value', default: 0.2, min: 0, minExclusive: true, help: 'Value clip range around the old value estimates.' },
      { kind: 'number', name: 'vf_coef', default: 0.1, min: 0, help: 'Weight of the value loss.' },
      { kind: 'number', name: 'gamma', default: 1, min: 0, max: 1, help: 'Discount factor (1: no discount within a completion).' },
      { kind: 'number', name: 'lam', default: 0.95, min: 0, max: 1, help: 'GAE lambda: bias-variance trade-off of the advantages.' },
      { kind: 'integer', name: 'num_ppo_epochs', default: 4, min: 1, help: 'Optimization passes over each batch of samples.' },
      { kind: 'integer', name: 'num_mini_batches', default: 1, min: 1, help: 'Mini-batches per PPO epoch.' },
      { kind: 'boolean', name: 'whiten_rewards', default: false, help: 'Whiten the per-token rewards before GAE.' },
      missingEos,
      temperature(0.7),
      maxCompletion(53, 'response_length'),
    ],
    metrics: ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'objective/kl_coef', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'policy/entropy_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'val/num_eos_tokens', 'lr', 'episode'],
  },
  {
    id: 'rloo',
    trainable: true,
    title: 'REINFORCE Leave-One-Out (RLOO)',
    family: 'online-rl',
    summary:
      'REINFORCE with a group baseline and no value model: k completions per prompt, each advantage is its reward (minus a sequence-level KL penalty) minus the mean reward of the other k-1. Simpler and lighter than PPO with comparable results.',
    citation: C.rloo,
    axes: {
      rm1: { value: 'explicit', note: 'A reward model or verifier scores completions.' },
      rm2: { value: 'pointwise', note: 'A scalar score per completion.' },
      rm3: { value: 'response', note: 'One sequence-level reward (KL folded in).' },
      rm4: { value: 'positive-and-negative', note: 'Leave-one-out advantages are positive or negative.' },
      f: { value: 'human', note: 'RM trained on human preferences in the paper.' },
      rl1: { value: 'reference', note: 'KL penalty to the reference (beta > 0).' },
      rl2: { value: 'on-policy', note: 'Learns from its own samples.' },
      o: { value: 'online', note: 'Fresh samples every step.' },
    },
    datasetKinds: ['prompt', 'preference', 'sft'],
    datasetNote: 'Prompts only (any dataset contributes its prompts; prompt-only rows keep their other columns, e.g. a reference `answer` for a verifier); scored by the run\'s reward functions.',
    needsRewardModel: false,
    needsReference: true,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      { kind: 'integer', name: 'num_generations', default: 2, min: 2, help: 'k: completions sampled per prompt (the baseline of each is the mean of the other k-1).' },
      { kind: 'number', name: 'beta', default: 0.05, min: 0, help: 'Weight of the sequence-level KL penalty (k1) folded into the reward. 0 = no reference model.' },
      { kind: 'boolean', name: 'normalize_advantages', default: false, help: 'Standardize the leave-one-out advantages over the batch.' },
      ...onlineRlParams(),
    ],
    metrics: ONLINE_RL_METRICS,
  },
  {
    id: 'grpo',
    trainable: true,
    title: 'Group Relative Policy Optimization (GRPO)',
    family: 'online-rl',
    summary:
      'PPO without a value model: sample a group of completions per prompt, standardize their rewards within the group to get advantages, and apply the clipped-ratio loss per token, optionally with a k3 KL penalty to the reference. Suited to verifiable rewards (tests, exact answers).',
    citation: C.grpo,
    axes: {
      rm1: { value: 'explicit', note: 'A reward model or a rule-based verifier.' },
      rm2: { value: 'pointwise', note: 'A scalar score per completion.' },
      rm3: { value: 'response', note: 'One reward per completion, spread over its tokens as the advantage.' },
      rm4: { value: 'positive-and-negative', note: 'Group-standardized advantages are positive or negative.' },
      f: { value: 'ai', note: 'Rule-based or model rewards in the paper.' },
      rl1: { value: 'reference-free', note: 'beta = 0 by default (no reference); beta > 0 adds a k3 KL penalty to the reference.' },
      rl2: { value: 'on-policy', note: 'Learns from its own samples.' },
      o: { value: 'online', note: 'Fresh samples every step.' },
    },
    datasetKinds: ['prompt', 'preference', 'sft'],
    datasetNote: 'Prompts only (any dataset contributes its prompts; prompt-only rows keep their other columns, e.g. a reference `answer` for a verifier); scored by the run\'s reward functions.',
    needsRewardModel: false,
    needsReference: false,
    defaults: { learningRate: 1e-6, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      { kind: 'integer', name: 'num_generations', default: 8, min: 2, help: 'Group size: completions sampled per prompt.' },
      { kind: 'number', name: 'beta', default: 0, min: 0, help: 'Weight of the per-token k3 KL penalty to the reference; 0 (TRL default) loads no reference model.' },
      { kind: 'choice', name: 'loss_type', default: 'dapo', options: GRPO_LOSS_TYPES.map((l) => ({ value: l.id, help: l.summary })), help: 'How the per-token losses are aggregated.' },
      { kind: 'choice', name: 'scale_rewards', default: 'group', options: SCALE_REWARDS_OPTIONS.map((o) => ({ ...o })), help: 'What the group-centred rewards are divided by to give the advantages.' },
      { kind: 'choice', name: 'importance_sampling_level', default: 'token', options: IMPORTANCE_SAMPLING_OPTIONS.map((o) => ({ ...o })), help: 'Token-level ratios (GRPO) or one per sequence (GSPO).' },
      ...onlineRlParams(),
    ],
    lossTypes: GRPO_LOSS_TYPES,
    metrics: ONLINE_RL_METRICS,
  },
  {
    id: 'online-dpo',
    trainable: true,
    title: 'Online DPO (iterative)',
    family: 'online-rl',
    summary:
      'DPO on fresh pairs: for each prompt the current policy samples two completions, the run\'s reward functions (a verifier, the proxy reward, a reward model) pick the better one, and a DPO step against the frozen reference follows. Avoids the distribution shift of a fixed offline preference set.',
    citation: C.onlineDpo,
    axes: {
      rm1: { value: 'implicit', note: 'DPO implicit reward; the reward functions only pick the winner of each pair.' },
      rm2: { value: 'preference', note: 'The two fresh completions of a prompt are compared.' },
      rm3: { value: 'response', note: 'One implicit reward per response.' },
      rm4: { value: 'positive-and-negative', note: 'Raises the winner and lowers the loser.' },
      f: { value: 'ai', note: 'An LLM judge in the paper (OAIF); here the run\'s reward functions judge each pair.' },
      rl1: { value: 'reference', note: 'DPO loss against the frozen reference model (the base without adapters under LoRA).' },
      rl2: { value: 'on-policy', note: 'Pairs are sampled from the current policy.' },
      o: { value: 'online', note: 'Feedback is collected while training.' },
    },
    datasetKinds: ['prompt', 'preference', 'sft'],
    datasetNote: 'Prompts only (any dataset contributes its prompts; prompt-only rows keep their other columns, e.g. a reference `answer` for a verifier); the pairs are sampled and judged by the run\'s reward functions during the run. batchSize counts prompts (pairs).',
    needsRewardModel: false,
    needsReference: true,
    defaults: { learningRate: 5e-7, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      beta('Strength of the implicit KL leash.'),
      onlineDpoLossType('DPO loss on the judged pairs.'),
      maxCompletion(64, 'max_new_tokens'),
      temperature(0.9),
      ...topKP(),
      missingEos,
    ],
    metrics: ['objective/kl', 'objective/entropy', 'objective/non_score_reward', 'objective/rlhf_reward', 'objective/scores', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'val/contain_eos_token', 'beta', 'pairs/ties', 'pairs/trained'],
  },
  {
    id: 'human-dpo',
    trainable: true,
    title: 'Iterative DPO with a person',
    family: 'online-rl',
    rewardsOptional: true,
    summary:
      'Online DPO where a person labels the pairs: each round the current policy samples completions, the pairs most worth a person\'s time are published to the comparison panel, and the labeled pairs take DPO steps. An AI judge (the run\'s reward functions) can label the rest after a budget or timeout, or label everything with the person auditing a sample.',
    citation: C.onlineDpo,
    axes: {
      rm1: { value: 'implicit', note: 'DPO implicit reward, which also ranks the pairs by how uncertain they are.' },
      rm2: { value: 'preference', note: 'The person compares two fresh completions of a prompt.' },
      rm3: { value: 'response', note: 'One implicit reward per response.' },
      rm4: { value: 'positive-and-negative', note: 'Raises the preferred completion and lowers the other.' },
      f: { value: 'human', note: 'A person in the comparison panel; an AI judge only in the mixed modes, weighted below the person.' },
      rl1: { value: 'reference', note: 'DPO loss against the frozen reference model.' },
      rl2: { value: 'on-policy', note: 'Pairs are sampled from the current policy (the next batch from the policy before the latest update, so the person never waits).' },
      o: { value: 'online', note: 'Feedback is collected while training, round by round.' },
    },
    datasetKinds: ['prompt', 'preference', 'sft'],
    datasetNote: 'Prompts only (any dataset contributes its prompts). Each round\'s pairs are published in the run folder (rounds/round-<n>/pairs.jsonl) for the comparison panel; docs/human-loop.md. batchSize counts pairs per micro-batch and must divide pairs_per_round.',
    needsRewardModel: false,
    needsReference: true,
    defaults: { learningRate: 1e-5, maxLength: 1024, maxPromptLength: 512 },
    hyperparameters: [
      beta('Strength of the implicit KL leash.'),
      onlineDpoLossType('DPO loss on the labeled pairs.'),
      maxCompletion(64, 'max_new_tokens'),
      temperature(1),
      ...topKP(),
      { kind: 'integer', name: 'rounds', default: 5, min: 1, help: 'Rounds of sample -> label -> update.' },
      { kind: 'integer', name: 'prompts_per_round', default: 8, min: 1, help: 'Prompts sampled from in each round.' },
      { kind: 'integer', name: 'samples_per_prompt', default: 4, min: 2, help: 'k: completions sampled per prompt; the pairs are picked among them.' },
      { kind: 'integer', name: 'pairs_per_round', default: 8, min: 1, help: 'Pairs published for labeling in each round.' },
      { kind: 'integer', name: 'updates_per_round', default: 4, min: 1, help: 'Optimizer steps on the labeled pairs of each round.' },
      {
        kind: 'choice',
        name: 'selection',
        default: 'active',
        options: [
          { value: 'active', help: 'With a reward model or judge among the reward functions: the pairs where they predict a clear winner that the policy does not prefer yet (not their near-ties, which a person decides almost at random). Without one: the pairs the implicit reward is least sure about. Distinct completions, spread over prompts.' },
          { value: 'random', help: 'Random pairs of random prompts, for comparison.' },
        ],
        help: 'Which pairs are worth the person\'s time.',
      },
      { kind: 'number', name: 'diversity_weight', default: 0.5, min: 0, max: 1, help: 'How much a picked pair lowers the score of other pairs of the same or a similar prompt (0 = no spreading).' },
      {
        kind: 'choice',
        name: 'feedback_mode',
        default: 'human',
        options: [
          { value: 'human', help: 'The person labels every pair.' },
          { value: 'human-then-judge', help: 'The person labels up to human_labels_per_round pairs (or until the timeout); the AI judge labels the rest.' },
          { value: 'judge-audit', help: 'The AI judge labels every pair; the person audits audit_fraction of them, and the person\'s label wins.' },
        ],
        help: 'Who labels the pairs. The judge is the run\'s reward functions.',
      },
      { kind: 'integer', name: 'human_labels_per_round', default: 0, min: 0, help: 'The person\'s per-round budget (0 = every pair).' },
      { kind: 'number', name: 'audit_fraction', default: 0.25, min: 0, minExclusive: true, max: 1, help: 'judge-audit: share of the pairs the person labels too.' },
      { kind: 'number', name: 'ai_label_weight', default: 0.5, min: 0, minExclusive: true, max: 1, help: 'Weight of a judge-labeled pair in the loss (a person-labeled pair weighs 1).' },
      { kind: 'number', name: 'round_timeout_seconds', default: 0, min: 0, help: 'Seconds the session waits for the person\'s labels (0 = no limit).' },
      {
        kind: 'choice',
        name: 'on_timeout',
        default: 'train-on-labeled',
        options: [
          { value: 'train-on-labeled', help: 'Train on the pairs labeled so far and go on.' },
          { value: 'judge', help: 'The AI judge labels the rest.' },
          { value: 'stop', help: 'Stop the run with a message; it resumes at this round.' },
        ],
        help: 'What happens when the timeout passes.',
      },
      { kind: 'boolean', name: 'prefetch_next_batch', default: true, help: 'Sample and publish the next batch while the person labels this one, so the person never waits (its pairs come from the policy before this round\'s update).' },
      { kind: 'boolean', name: 'refit_reward_model', default: false, help: 'After each round\'s DPO update, refit a reward model (the policy\'s body with a score head, Bradley-Terry) on all of the person\'s labels so far.' },
      { kind: 'integer', name: 'refit_reward_epochs', default: 2, min: 1, help: 'Passes of the reward-model refit over all of the person\'s labels, each round.' },
      {
        kind: 'choice',
        name: 'refit_policy',
        default: 'none',
        options: [
          { value: 'none', help: 'The policy trains on the pairs only (DPO).' },
          { value: 'grpo', help: 'Then GRPO steps against the refit reward model: samples_per_prompt completions of prompts_per_round prompts per step.' },
          { value: 'ppo', help: 'Then PPO steps against the refit reward model: one completion of each of prompts_per_round prompts per step, with a value model started from the reward model.' },
        ],
        help: 'After the DPO update and the reward-model refit, train the policy against the refit reward model (needs refit_reward_model).',
      },
      { kind: 'integer', name: 'refit_policy_steps', default: 2, min: 1, help: 'Rollouts (each with its update) against the refit reward model, each round.' },
    ],
    metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'objective/kl', 'human/labels', 'human/ai_labels', 'human/late_labels', 'human/ai_agreement', 'human/heldout_agreement', 'human/win_rate_vs_previous', 'human/round', 'reward_model/loss', 'reward_model/accuracy', 'reward_model/accuracy_before', 'reward_model/margin', 'refit/reward', 'refit/kl'],
  },
];

/** The card of a method; throws for an unknown id (callers validate ids first, see `isMethodId`). */
export function methodCard(id: MethodId): MethodCard {
  const c = METHOD_CARDS.find((m) => m.id === id);
  if (!c) throw new RangeError(`unknown method "${id}"`);
  return c;
}

export function isMethodId(x: unknown): x is MethodId {
  return typeof x === 'string' && (METHOD_IDS as readonly string[]).includes(x);
}

/** The method's hyperparameters with their defaults. */
export function defaultHyperparameters(id: MethodId): Record<string, HyperparameterValue> {
  return Object.fromEntries(methodCard(id).hyperparameters.map((p) => [p.name, p.default]));
}

/** Problems with one hyperparameter value (empty when valid), each naming `path`. */
export function checkHyperparameter(p: Hyperparameter, value: unknown, path: string): string[] {
  switch (p.kind) {
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected true or false`];
    case 'choice':
      return typeof value === 'string' && p.options.some((o) => o.value === value) ? [] : [`${path}: expected one of ${p.options.map((o) => JSON.stringify(o.value)).join(', ')}`];
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return [`${path}: expected a finite number`];
      if (p.kind === 'integer' && !Number.isInteger(value)) return [`${path}: expected an integer`];
      const lowEx = p.kind === 'number' && p.minExclusive;
      const highEx = p.kind === 'number' && p.maxExclusive;
      if (p.min !== undefined && (lowEx ? value <= p.min : value < p.min)) return [`${path}: must be ${lowEx ? '>' : '>='} ${p.min}, got ${value}`];
      if (p.max !== undefined && (highEx ? value >= p.max : value > p.max)) return [`${path}: must be ${highEx ? '<' : '<='} ${p.max}, got ${value}`];
      return [];
    }
  }
}
