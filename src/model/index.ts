// Placeholder until the model library lands: the feature spec type the rest of etaserve relies on.
export interface FeatureSpec {
  name: string;
  type: 'numeric' | 'categorical';
  /** For categorical features: value i of the feature means categories[i]. */
  categories?: string[];
}
