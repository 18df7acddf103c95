// Differential privacy: explicit public exports are listed here.
export {};
