/**
 * Float64 reference of the adaptive KL controller (Ziegler et al. 2019, "Fine-Tuning Language Models from Human
 * Preferences", sec. 2.2): beta_{t+1} = beta_t (1 + K_beta e_t), e_t = clip((KL_t - KL_target) / KL_target,
 * -0.2, 0.2), K_beta = n / horizon for a rollout of n episodes. Written from the paper's formula, kept plain.
 */
export function adaptiveKlReference(init: number, target: number, horizon: number, rollouts: readonly { kl: number; n: number }[]): number[] {
  const out: number[] = [];
  let beta = init;
  for (const r of rollouts) {
    let e = (r.kl - target) / target;
    if (e > 0.2) e = 0.2;
    if (e < -0.2) e = -0.2;
    beta = beta * (1 + (r.n / horizon) * e);
    out.push(beta);
  }
  return out;
}
