"""Answer: the policy that decides answer or abstain, sentence selection, composition, the chain, timeline and generative modes."""
