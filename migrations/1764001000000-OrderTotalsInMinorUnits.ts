import { MigrationInterface, QueryRunner } from 'typeorm';

export class OrderTotalsInMinorUnits1764001000000 implements MigrationInterface {
  name = 'OrderTotalsInMinorUnits1764001000000';

  /**
   * Totals in each currency's own minor units (ISO 4217: JPY 0, EUR 2, KWD 3, CLF 4): numeric(18,2)
   * could not hold a dinar's three decimals. Widening keeps every stored amount exactly; the API
   * and the PDF print each with its currency's decimals.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE orders ALTER COLUMN total TYPE numeric(20,4)`);
  }

  /** Refuses to round: amounts with a third or fourth decimal have no numeric(18,2) value. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    const [{ count }] = await queryRunner.query(
      `SELECT count(*)::int AS count FROM orders WHERE total <> round(total, 2)`,
    );
    if (count > 0) {
      throw new Error(
        `${count} order total(s) have more than two decimals (KWD, CLF…): numeric(18,2) cannot hold them`,
      );
    }
    await queryRunner.query(`ALTER TABLE orders ALTER COLUMN total TYPE numeric(18,2)`);
  }
}
